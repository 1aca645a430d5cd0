//! Serialization: round trips, and refusal to load a model as another kind.

use super::common::*;

use clv_core::ltv::*;

#[test]
fn round_trip_and_kind_check() {
    let data = cdnow();
    let bg = BgNbd::new().fit(&data).unwrap();
    let json = serde_json::to_string(&bg).unwrap();
    assert!(json.contains("\"kind\":\"bg_nbd\""), "{json}");
    assert!(json.contains("\"time_unit\":\"week\""));
    let back: FittedBgNbd = serde_json::from_str(&json).unwrap();
    assert_eq!(back.params(), bg.params());
    assert_eq!(back.fit_report(), bg.fit_report());
    assert_eq!(
        back.p_alive(2.0, 30.43, 38.86).unwrap(),
        bg.p_alive(2.0, 30.43, 38.86).unwrap()
    );
    // peek at the kind
    let tag: KindTag = serde_json::from_str(&json).unwrap();
    assert_eq!(tag.kind, ModelKind::BgNbd);
    assert_eq!(
        tag.kind.ensure(ModelKind::ParetoNbd),
        Err(ModelError::WrongModelKind {
            expected: ModelKind::ParetoNbd,
            found: ModelKind::BgNbd
        })
    );
    // loading as another kind fails
    let err = serde_json::from_str::<FittedParetoNbd>(&json).unwrap_err().to_string();
    assert!(err.contains("expected pareto_nbd, found bg_nbd"), "{err}");
    let err = serde_json::from_str::<FittedMbgNbd>(&json).unwrap_err().to_string();
    assert!(err.contains("model kind mismatch"), "{err}");
    // unsupported version
    let bad = json.replace("\"format_version\":1", "\"format_version\":99");
    assert!(serde_json::from_str::<FittedBgNbd>(&bad).is_err());
    // invalid parameters are refused on load
    let neg = json.replacen("\"r\":", "\"r\":-", 1);
    assert!(serde_json::from_str::<FittedBgNbd>(&neg).is_err());

    let pareto = ParetoNbd::new().fit(&data).unwrap();
    let pj = serde_json::to_string(&pareto).unwrap();
    let pb: FittedParetoNbd = serde_json::from_str(&pj).unwrap();
    assert_eq!(pb.params(), pareto.params());
    assert!(serde_json::from_str::<FittedBgNbd>(&pj).is_err());

    let mbg = MbgNbd::new().fit(&data).unwrap();
    let mj = serde_json::to_string(&mbg).unwrap();
    assert_eq!(
        serde_json::from_str::<FittedMbgNbd>(&mj).unwrap().params(),
        mbg.params()
    );

    let (_, spend) = cdnow_spend();
    let gg = GammaGamma::new().fit(&spend).unwrap();
    let gj = serde_json::to_string(&gg).unwrap();
    assert_eq!(
        serde_json::from_str::<FittedGammaGamma>(&gj).unwrap().params(),
        gg.params()
    );
    assert!(serde_json::from_str::<FittedSbg>(&gj).is_err());

    let bb = BgBb::new().fit(&donations()).unwrap();
    let bj = serde_json::to_string(&bb).unwrap();
    assert_eq!(serde_json::from_str::<FittedBgBb>(&bj).unwrap().params(), bb.params());

    let s = Sbg::new()
        .fit(&SurvivalData::from_survival_curve(&[1.0, 0.631, 0.468, 0.382], 1000.0).unwrap())
        .unwrap();
    let sj = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<FittedSbg>(&sj).unwrap().params(), s.params());
    assert!(serde_json::from_str::<FittedBgBb>(&sj).is_err());

    // a model built from parameters has no fit report and round-trips too
    let p = FittedBgNbd::from_params(
        BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        },
        TimeUnit::Day,
    )
    .unwrap();
    let pj = serde_json::to_string(&p).unwrap();
    let pb: FittedBgNbd = serde_json::from_str(&pj).unwrap();
    assert!(pb.fit_report().is_none());
    assert_eq!(pb.time_unit(), TimeUnit::Day);
}
