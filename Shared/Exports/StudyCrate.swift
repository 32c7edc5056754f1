import FairwayPublication
import Foundation

/// `fairway export rocrate`: the study as an RO-Crate 1.1 (`ro-crate-metadata.json`). The root
/// Dataset is the study (`additionalType: Study`, part of its investigation); each assay is a
/// Dataset within it, each image a File with its size, SHA-256 and format; creators with their
/// ORCID, the licence and the DOI come from the publication, annotations are `PropertyValue`s.
/// The images stay where they are: a File's id is where it can be fetched (the data access URL
/// once published, when one is configured) or its `file://` path in the facility's storage.
public enum StudyCrate {
    public static let fileName = "ro-crate-metadata.json"

    public struct Crate: Sendable {
        public var json: String
        public var files: Int
    }

    /// `dataAccess`: FAIRWAY_DATA_ACCESS_URL (`{doi}`, `{path}`), used for published studies.
    public static func build(_ snapshot: StudySnapshot, dataAccess: String? = nil) throws(ExportError) -> Crate {
        var graph: [[String: Any]] = []
        var seen = Set<String>()
        func add(_ entity: [String: Any]) {
            let id = entity["@id"] as! String
            if seen.insert(id).inserted { graph.append(entity) }
        }
        func ref(_ id: String) -> [String: Any] { ["@id": id] }
        // RO-Crate asks for a single value where a list would have one element.
        func one(_ values: [[String: Any]]) -> Any { values.count == 1 ? values[0] : values }
        let record = snapshot.dataCite
        let publication = snapshot.publication.flatMap { $0.registeredAt == nil ? nil : $0 }

        var propertyCount = 0
        func properties(_ annotations: [StudySnapshot.Annotation]) -> [[String: Any]] {
            annotations.map { annotation in
                propertyCount += 1
                let id = "#property-\(propertyCount)"
                add(["@id": id, "@type": "PropertyValue", "propertyID": annotation.namespace + ":" + annotation.key,
                     "name": annotation.key, "value": annotation.kind == "tag" ? "" : annotation.value]
                    .merging(annotation.kind == "tag" ? ["description": "tag"] : [:]) { $1 })
                return ref(id)
            }
        }

        var root: [String: Any] = [
            "@id": "./", "@type": "Dataset", "additionalType": "Study",
            "name": record?.titles.first?.title ?? snapshot.study.name,
            "alternateName": snapshot.study.name,
            "description": record?.descriptions.first { $0.descriptionType == "Abstract" }?.description
                ?? snapshot.study.description ?? "Study \(snapshot.study.name) of investigation \(snapshot.investigation.name)",
            "datePublished": day(publication?.registeredAt ?? snapshot.study.createdAt),
        ]
        add(["@id": "ro-crate-metadata.json", "@type": "CreativeWork", "conformsTo": ref("https://w3id.org/ro/crate/1.1"), "about": ref("./")])
        add(["@id": "./"])   // the root's place, second in the graph; filled in at the end
        let investigationID = "#investigation/\(snapshot.investigation.name)"
        add(["@id": investigationID, "@type": "Dataset", "additionalType": "Investigation", "name": snapshot.investigation.name,
             "description": snapshot.investigation.description ?? "", "hasPart": ref("./"),
             "additionalProperty": one(properties(snapshot.investigation.annotations))].filter { !(($0.value as? [Any])?.isEmpty ?? false) })
        root["isPartOf"] = ref(investigationID)

        if let record, let publication {
            root["identifier"] = "https://doi.org/" + publication.doi
            root["url"] = publication.landing
            if !record.subjects.isEmpty { root["keywords"] = record.subjects.map(\.subject) }
            root["author"] = one(record.creators.enumerated().map { index, creator -> [String: Any] in
                let id = creator.nameIdentifiers?.first { $0.nameIdentifierScheme == "ORCID" }?.nameIdentifier ?? "#creator-\(index + 1)"
                var person: [String: Any] = ["@id": id, "@type": creator.nameType == "Organizational" ? "Organization" : "Person", "name": creator.name]
                if let given = creator.givenName { person["givenName"] = given }
                if let family = creator.familyName { person["familyName"] = family }
                if let affiliation = creator.affiliation?.first {
                    let organization = affiliation.affiliationIdentifier ?? "#organization-" + slug(affiliation.name)
                    add(organizationEntity(organization, affiliation.name))
                    person["affiliation"] = ref(organization)
                }
                add(person)
                return ref(id)
            })
            let publisher = record.publisher.publisherIdentifier ?? "#publisher"
            add(organizationEntity(publisher, record.publisher.name))
            root["publisher"] = ref(publisher)
            if let rights = record.rightsList.first {
                add(["@id": rights.rightsUri, "@type": "CreativeWork", "name": rights.rights, "identifier": rights.rightsIdentifier])
                root["license"] = ref(rights.rightsUri)
            }
            if publication.withdrawn { root["creativeWorkStatus"] = "Withdrawn" }
        }

        var parts: [[String: Any]] = []
        var fileCount = 0
        for assay in snapshot.assays {
            let assayID = "#assay/\(assay.level.name)"
            var assayParts: [[String: Any]] = []
            for file in assay.files {
                let id = fileID(file, doi: publication?.withdrawn == false ? publication?.doi : nil, dataAccess: dataAccess)
                var entity: [String: Any] = ["@id": id, "@type": "File", "name": file.path, "contentSize": String(file.size),
                                             "identifier": "urn:uuid:" + file.id.uuidString.lowercased()]
                if let sha256 = file.sha256Hex { entity["sha256"] = sha256 }
                let media = mediaType(file)
                entity["encodingFormat"] = media
                if let acquired = file.acquiredAt { entity["dateCreated"] = acquired.formatted(Date.ISO8601FormatStyle()) }
                if let instrument = file.instrument {
                    let instrumentID = "#instrument/" + slug(instrument)
                    add(["@id": instrumentID, "@type": "IndividualProduct", "name": instrument])
                    entity["instrument"] = ref(instrumentID)
                }
                let annotations = properties(file.annotations)
                if !annotations.isEmpty { entity["additionalProperty"] = one(annotations) }
                add(entity)
                assayParts.append(ref(id))
                fileCount += 1
                // The converted OME-TIFF, based on the original: the image of record.
                if let converted = file.converted {
                    let derived = StudySnapshot.File(id: converted.id, path: converted.path, size: converted.size, checksum: converted.checksum,
                                                     format: converted.format, state: "converted", annotations: converted.annotations,
                                                     replicas: converted.replicas)
                    let derivedID = fileID(derived, doi: nil, dataAccess: nil)
                    var entity: [String: Any] = ["@id": derivedID, "@type": "File", "name": converted.path, "contentSize": String(converted.size),
                                                 "identifier": "urn:uuid:" + converted.id.uuidString.lowercased(),
                                                 "encodingFormat": "image/tiff", "isBasedOn": ref(id)]
                    if let sha256 = derived.sha256Hex { entity["sha256"] = sha256 }
                    let annotations = properties(converted.annotations)
                    if !annotations.isEmpty { entity["additionalProperty"] = one(annotations) }
                    add(entity)
                    assayParts.append(ref(derivedID))
                    fileCount += 1
                }
            }
            var entity: [String: Any] = ["@id": assayID, "@type": "Dataset", "additionalType": "Assay", "name": assay.level.name,
                                         "description": assay.level.description ?? "Assay \(assay.level.name)", "hasPart": one(assayParts)]
            let annotations = properties(assay.level.annotations)
            if !annotations.isEmpty { entity["additionalProperty"] = one(annotations) }
            add(entity)
            parts.append(ref(assayID))
            parts += assayParts
        }
        root["hasPart"] = one(parts)
        let studyProperties = properties(snapshot.study.annotations)
        if !studyProperties.isEmpty { root["additionalProperty"] = one(studyProperties) }
        graph[1] = root

        let document: [String: Any] = ["@context": "https://w3id.org/ro/crate/1.1/context", "@graph": graph]
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else {
            throw ExportError("the crate could not be written as JSON")
        }
        return Crate(json: String(decoding: data, as: UTF8.self) + "\n", files: fileCount)
    }

    /// Where the file can be fetched: the data access URL of a published study, else the
    /// preferred good replica as a `file://` URI, else a local id.
    static func fileID(_ file: StudySnapshot.File, doi: String?, dataAccess: String?) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#;")
        if let doi, let dataAccess {
            return dataAccess.replacingOccurrences(of: "{doi}", with: doi)
                .replacingOccurrences(of: "{path}", with: file.path.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }
        let preference = ["vault", "landing", "cold", "derived"]
        if let replica = file.replicas.filter({ $0.status == "good" }).min(by: { (preference.firstIndex(of: $0.role) ?? 9) < (preference.firstIndex(of: $1.role) ?? 9) }),
           let encoded = replica.path.addingPercentEncoding(withAllowedCharacters: allowed) {
            return "file://" + encoded
        }
        return "#file/" + (file.path.addingPercentEncoding(withAllowedCharacters: allowed) ?? file.id.uuidString)
    }

    /// An organization; one identified by its ROR record has that page as its URL.
    static func organizationEntity(_ id: String, _ name: String) -> [String: Any] {
        var entity: [String: Any] = ["@id": id, "@type": "Organization", "name": name]
        if id.hasPrefix("https://") { entity["url"] = id }
        return entity
    }

    static func mediaType(_ file: StudySnapshot.File) -> String {
        switch file.format {
        case "ome-tiff", "imagej-tiff", "tiff", "bigtiff", "lsm": "image/tiff"
        case "png": "image/png"
        case "jpeg": "image/jpeg"
        default: "application/octet-stream"
        }
    }

    static func day(_ date: Date) -> String { String(date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!)).prefix(10)) }

    static func slug(_ text: String) -> String {
        String(text.lowercased().unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? Character($0) : "-" })
    }
}
