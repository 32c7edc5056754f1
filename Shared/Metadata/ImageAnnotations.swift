extension ImageMetadata {
    /// Namespaces of the annotations the metadata step owns on an image of record: rewritten
    /// whole on every description, never touched by users.
    public enum Namespace {
        public static let machineTags = "fairway/machine-tags"
        public static let originalMetadata = "fairway/original-metadata"
        public static let naming = "fairway/naming"
        public static let all = [machineTags, originalMetadata, naming]
    }

    /// At most this many original-metadata pairs are kept as annotations (all stay in the record).
    public static let maxOriginalAnnotations = 2000

    /// Every annotation the description writes, as (namespace, key, value): the machine tags, the
    /// vendor's original metadata and the naming pattern's fields. The image's own fields live in
    /// `image_metadata` (typed columns and the whole record), not repeated here: each annotation
    /// row costs its share of five indexes, and these three sets are what people search by.
    public var annotationTriples: [(namespace: String, key: String, value: String)] {
        var triples: [(String, String, String)] = []
        for (key, value) in machineTags.sorted(by: { $0.key < $1.key }) where !value.isEmpty {
            triples.append((Namespace.machineTags, key, String(value.prefix(4096))))
        }
        for (key, value) in annotations.sorted(by: { $0.key < $1.key }).prefix(Self.maxOriginalAnnotations) where !key.isEmpty && !value.isEmpty {
            triples.append((Namespace.originalMetadata, key, value))
        }
        for (key, value) in (naming.fields ?? [:]).sorted(by: { $0.key < $1.key }) where !value.isEmpty {
            triples.append((Namespace.naming, key, value))
        }
        return triples
    }
}
