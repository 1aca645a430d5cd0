pub struct RfmTable;
