import Foundation

/// ISA-JSON (the ISA model's JSON serialization, as `isatools` reads it) for one study, and its
/// import back into the catalog's hierarchy.
///
/// Annotations travel as ISA `comments`, named so the import can restore them exactly:
/// a key-value pair is `<namespace>:<key>`, a tag `tag:<namespace>` with the tag as value; in the
/// namespace `:` and `%` are percent-escaped (and a namespace that is exactly `tag` is written
/// `%74ag`). Comments with no `:` in their name are facts Fairway states (size, checksum, …) and
/// are not annotations.
public enum ISAJSON {
    static let imageFileType = "Image File"
    static let derivedFileType = "Derived Data File"

    public static func export(_ snapshot: StudySnapshot) throws(ExportError) -> String {
        let record = snapshot.dataCite
        let published = snapshot.publication.flatMap { $0.registeredAt == nil ? nil : $0 }
        let released = published?.registeredAt.map(day) ?? ""
        var people: [[String: Any]] = []
        for (index, creator) in (record?.creators ?? []).enumerated() {
            people.append([
                "@id": "#person/\(index + 1)",
                "lastName": creator.familyName ?? creator.name, "firstName": creator.givenName ?? "", "midInitials": "",
                "email": "", "phone": "", "fax": "", "address": "",
                "affiliation": creator.affiliation?.first?.name ?? "",
                "roles": [term("author")],
                "comments": (creator.nameIdentifiers ?? []).map { comment($0.nameIdentifierScheme, $0.nameIdentifier) },
            ])
        }
        var publications: [[String: Any]] = []
        if let record, let published {
            publications.append([
                "pubMedID": "", "doi": published.doi, "title": record.titles.first?.title ?? "",
                "authorList": record.creators.map(\.name).joined(separator: "; "),
                "status": term(published.withdrawn ? "withdrawn" : "published"),
                "comments": record.rightsList.map { comment("license", $0.rightsIdentifier) },
            ])
        }
        let assays: [[String: Any]] = snapshot.assays.map { assay in
            var comments = annotationComments(assay.level.annotations)
            if let description = assay.level.description, !description.isEmpty { comments.insert(comment("description", description), at: 0) }
            let instruments = Array(Set(assay.files.compactMap(\.instrument))).sorted()
            return [
                "filename": "a_\(assay.level.name).txt",
                "measurementType": term("imaging"),
                "technologyType": term("microscopy"),
                "technologyPlatform": instruments.joined(separator: "; "),
                "dataFiles": assay.files.flatMap { file -> [[String: Any]] in
                    var facts = [comment("size", String(file.size)), comment("format", file.format), comment("fairway object", file.id.uuidString.lowercased())]
                    if let sha256 = file.sha256Hex { facts.append(comment("sha256", sha256)) }
                    if let acquired = file.acquiredAt { facts.append(comment("acquired", acquired.formatted(Date.ISO8601FormatStyle()))) }
                    var files: [[String: Any]] = [["@id": "#data/\(assay.level.name)/\(file.path)", "name": file.path, "type": imageFileType,
                                                   "comments": facts + annotationComments(file.annotations)]]
                    // The converted OME-TIFF is data of its own: its metadata and QC tags are on it.
                    if let converted = file.converted {
                        var facts = [comment("size", String(converted.size)), comment("format", converted.format),
                                     comment("fairway object", converted.id.uuidString.lowercased()), comment("derived from", file.path)]
                        if let sha256 = StudySnapshot.hex(converted.checksum) { facts.append(comment("sha256", sha256)) }
                        files.append(["@id": "#data/\(assay.level.name)/\(converted.path)", "name": converted.path, "type": derivedFileType,
                                      "comments": facts + annotationComments(converted.annotations)])
                    }
                    return files
                },
                "materials": ["samples": [Any](), "otherMaterials": [Any]()],
                "characteristicCategories": [Any](), "unitCategories": [Any](),
                "processSequence": processes(assay),
                "comments": comments,
            ]
        }
        let anyConverted = snapshot.assays.contains { $0.files.contains { $0.converted != nil } }
        let protocols = [protocolEntry(acquisition)] + (anyConverted ? [protocolEntry(conversion)] : [])
        let study: [String: Any] = [
            "filename": "s_\(snapshot.study.name).txt",
            "identifier": snapshot.study.name,
            "title": record?.titles.first?.title ?? snapshot.study.name,
            "description": snapshot.study.description ?? "",
            "submissionDate": day(snapshot.study.createdAt), "publicReleaseDate": released,
            "publications": publications, "people": people,
            "studyDesignDescriptors": [Any](),
            "protocols": protocols,
            "materials": ["sources": [Any](), "samples": [Any](), "otherMaterials": [Any]()],
            "processSequence": [Any](), "assays": assays, "factors": [Any](), "characteristicCategories": [Any](), "unitCategories": [Any](),
            "comments": annotationComments(snapshot.study.annotations),
        ]
        let investigation: [String: Any] = [
            "identifier": snapshot.investigation.name,
            "filename": "i_\(snapshot.investigation.name).txt",
            "title": snapshot.investigation.name,
            "description": snapshot.investigation.description ?? "",
            "submissionDate": day(snapshot.investigation.createdAt), "publicReleaseDate": released,
            "ontologySourceReferences": [Any](), "publications": publications, "people": people,
            "studies": [study],
            "comments": annotationComments(snapshot.investigation.annotations),
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: investigation, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else {
            throw ExportError("the study could not be written as JSON")
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static let acquisition = "image acquisition", conversion = "conversion to OME-TIFF"

    static func protocolEntry(_ name: String) -> [String: Any] {
        ["@id": "#protocol/" + name.replacingOccurrences(of: " ", with: "-"), "name": name, "protocolType": term(name),
         "description": "", "uri": "", "version": "", "parameters": [Any](), "components": [Any](), "comments": [Any]()]
    }

    /// Where each data file comes from: the instrument's acquisition, then Fairway's conversion.
    static func processes(_ assay: StudySnapshot.Assay) -> [[String: Any]] {
        func id(_ path: String) -> [String: Any] { ["@id": "#data/\(assay.level.name)/\(path)"] }
        func process(_ name: String, _ inputs: [[String: Any]], _ outputs: [[String: Any]]) -> [String: Any] {
            ["@id": "#process/\(assay.level.name)/" + name.replacingOccurrences(of: " ", with: "-"), "name": "\(name) \(assay.level.name)",
             "executesProtocol": ["@id": "#protocol/" + name.replacingOccurrences(of: " ", with: "-")],
             "parameterValues": [Any](), "performer": "", "date": "", "inputs": inputs, "outputs": outputs, "comments": [Any]()]
        }
        guard !assay.files.isEmpty else { return [] }
        var sequence = [process(acquisition, [], assay.files.map { id($0.path) })]
        let converted = assay.files.filter { $0.converted != nil }
        if !converted.isEmpty {
            sequence.append(process(conversion, converted.map { id($0.path) }, converted.map { id($0.converted!.path) }))
        }
        return sequence
    }

    static func term(_ value: String) -> [String: Any] { ["annotationValue": value, "termSource": "", "termAccession": ""] }
    static func comment(_ name: String, _ value: String) -> [String: Any] { ["name": name, "value": value] }
    static func day(_ date: Date) -> String { String(date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!)).prefix(10)) }

    static func annotationComments(_ annotations: [StudySnapshot.Annotation]) -> [[String: Any]] {
        annotations.map { comment(CommentName.name(of: $0), $0.kind == "tag" ? $0.key : $0.value) }
    }
}

/// The comment names annotations travel under (see `ISAJSON`).
public enum CommentName {
    public static func name(of annotation: StudySnapshot.Annotation) -> String {
        annotation.kind == "tag" ? "tag:" + escaped(annotation.namespace) : escaped(annotation.namespace) + ":" + annotation.key
    }

    /// The annotation a comment stands for, or nil for a fact (no `:`). Malformed escapes are an error.
    public static func annotation(name: String, value: String) throws(ExportError) -> StudySnapshot.Annotation? {
        guard let colon = name.firstIndex(of: ":") else { return nil }
        let head = String(name[..<colon]), tail = String(name[name.index(after: colon)...])
        if head == "tag" {
            guard let namespace = unescaped(tail), !namespace.isEmpty, !value.isEmpty else { throw ExportError("comment \(name.prefix(80)): a tag needs a namespace and a value") }
            return .init(kind: "tag", namespace: namespace, key: value, value: "")
        }
        guard let namespace = unescaped(head), !namespace.isEmpty, !tail.isEmpty else {
            throw ExportError("comment \(name.prefix(80)) is not <namespace>:<key>")
        }
        return .init(kind: "map", namespace: namespace, key: tail, value: value)
    }

    static func escaped(_ namespace: String) -> String {
        if namespace == "tag" { return "%74ag" }
        return namespace.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: ":", with: "%3A")
    }

    static func unescaped(_ text: String) -> String? {
        guard !text.contains(":") else { return nil }
        return text.removingPercentEncoding
    }
}
