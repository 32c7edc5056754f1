/// What the converter needs beyond the initial schema: to point a derived object's replica at the
/// file of a newer source version and to replace its provenance annotations; at most one current
/// derived image per source object.
enum ConverterSchema {
    static let migration = Migration(version: 3, name: "converter", statements: [
        "GRANT UPDATE ON replicas TO fairway_converter",
        "GRANT DELETE ON annotations TO fairway_converter",
        // One derived image per source object (the current one); re-conversions update it.
        "CREATE UNIQUE INDEX objects_one_derived ON objects (parent_id) WHERE parent_id IS NOT NULL AND format = 'ome-tiff'",
    ])
}
