import FairwayContracts
import Foundation
import Testing

@Suite struct MessageCodecTests {
    let acquisition = AcquisitionCompleted(
        zone: "scope-1", path: "2026-11-02_NUC/img001.tif", owner: "amartin", investigation: "NUC",
        study: "hela-screen", assay: "plate-1", instrument: "LSM980",
        acquiredAt: ISO8601Timestamp.parse("2026-11-02T09:14:00Z"), metadata: ["Staining": "DAPI"]
    )

    @Test func bodyCarriesSchemaVersionBesideTheFields() throws {
        let body = MessageCodec.encode(acquisition)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(object["schema"] as? Int == 1)
        #expect(object["zone"] as? String == "scope-1")
        #expect(object["acquiredAt"] as? String == "2026-11-02T09:14:00.000Z")
    }

    @Test func everyMessageTypeRoundTrips() throws {
        let id = UUID()
        func roundTrip<M: FairwayMessage>(_ message: M) throws {
            let decoded = try MessageCodec.decode(M.self, from: MessageCodec.encode(message), amqpType: M.routingKey.rawValue)
            #expect(decoded == message)
        }
        try roundTrip(acquisition)
        try roundTrip(ObjectRegistered(objectID: id, acquisitionID: id, assayID: id, logicalPath: "a/b.tif", resource: "scope-1",
                                       physicalPath: "/landing/a/b.tif", size: 42, checksum: "sha2:" + String(repeating: "A", count: 43) + "=", format: "tiff"))
        try roundTrip(ObjectConverted(sourceObjectID: id, objectID: UUID(), resource: "derived", physicalPath: "/d/x.ome.tif", size: 1, checksum: "sha2:x", format: "ome-tiff"))
        try roundTrip(MetadataExtracted(objectID: id, complete: false, missingFields: ["license"]))
        try roundTrip(QCScored(objectID: id, verdict: .warn, reasons: ["saturation 1.5%"]))
        try roundTrip(DatasetPublishRequested(publicationID: id, investigation: "NUC", study: "hela", requestedBy: "amartin"))
        try roundTrip(DOIRegistered(publicationID: id, doi: "10.1234/abc", investigation: "NUC", study: "hela", landingPage: "https://x/y"))
        try roundTrip(RetentionNotice(investigation: "NUC", action: "expire", objectIDs: [id], dueAt: Date(timeIntervalSince1970: 1_900_000_000)))
        try roundTrip(RetentionApplied(objectID: id, action: "tier", resource: "cold", outcome: "verified"))
        #expect(Set(RoutingKey.allCases.map(\.rawValue)).count == 10)
    }

    @Test func acceptsTimestampsWithAndWithoutFractions() throws {
        for stamp in ["2026-11-02T09:14:00Z", "2026-11-02T09:14:00.250Z", "2026-11-02T10:14:00+01:00"] {
            let body = Array(#"{"schema":1,"zone":"z","path":"p","acquiredAt":"\#(stamp)"}"#.utf8)
            let decoded = try MessageCodec.decode(AcquisitionCompleted.self, from: body, amqpType: "acquisition.completed")
            #expect(decoded.acquiredAt != nil)
        }
    }

    /// Hostile and broken bodies: each refused with the error that names the problem.
    @Test(arguments: [
        ("", ContractError.emptyBody),
        ("not json", .notJSONObject("invalid JSON or UTF-8")),
        ("[1,2]", .notJSONObject("top level is not an object")),
        ("\"text\"", .notJSONObject("top level is not an object")),
        (#"{"zone":"z","path":"p","schema":null}"#, .malformedField(path: "schema", reason: "expected Int")),
        (#"{"schema":2,"zone":"z","path":"p"}"#, .unsupportedSchema(found: 2, supported: 1)),
        (#"{"schema":0,"zone":"z","path":"p"}"#, .unsupportedSchema(found: 0, supported: 1)),
        (#"{"schema":"1","zone":"z","path":"p"}"#, .malformedField(path: "schema", reason: "expected Int")),
        (#"{"schema":1.5,"zone":"z","path":"p"}"#, .malformedField(path: "schema", reason: "expected Int")),
        (#"{"schema":1,"path":"p"}"#, .malformedField(path: "zone", reason: "required field is missing")),
        (#"{"schema":1,"zone":42,"path":"p"}"#, .malformedField(path: "zone", reason: "expected String")),
        (#"{"schema":1,"zone":null,"path":"p"}"#, .malformedField(path: "zone", reason: "expected String, found null")),
        (#"{"schema":1,"zone":"z","path":"p","metadata":{"a":1}}"#, .malformedField(path: "metadata.a", reason: "expected String")),
    ])
    func refusesMalformedBodies(body: String, expected: ContractError) {
        #expect(throws: expected) {
            try MessageCodec.decode(AcquisitionCompleted.self, from: Array(body.utf8), amqpType: "acquisition.completed")
        }
    }

    @Test func refusesBadTimestampNamingTheField() {
        let body = Array(#"{"schema":1,"zone":"z","path":"p","acquiredAt":"yesterday"}"#.utf8)
        #expect {
            try MessageCodec.decode(AcquisitionCompleted.self, from: body, amqpType: "acquisition.completed")
        } throws: { error in
            guard case .malformedField(let path, _) = error as? ContractError else { return false }
            return path == "acquiredAt"
        }
    }

    @Test func refusesInvalidUTF8AndOversizedAndDeeplyNestedBodies() {
        let invalidUTF8: [UInt8] = Array(#"{"schema":1,"zone":""#.utf8) + [0xC3, 0x28] + Array(#"","path":"p"}"#.utf8)
        #expect(throws: ContractError.notJSONObject("invalid JSON or UTF-8")) {
            try MessageCodec.decode(AcquisitionCompleted.self, from: invalidUTF8, amqpType: "acquisition.completed")
        }
        let huge = [UInt8](repeating: 0x20, count: MessageCodec.maxBodyBytes + 1)
        #expect(throws: ContractError.bodyTooLarge(bytes: huge.count, limit: MessageCodec.maxBodyBytes)) {
            try MessageCodec.decode(AcquisitionCompleted.self, from: huge, amqpType: "acquisition.completed")
        }
        let nested = Array(("{\"schema\":1,\"zone\":\"z\",\"path\":\"p\",\"x\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}").utf8)
        #expect(throws: ContractError.self) {
            try MessageCodec.decode(AcquisitionCompleted.self, from: nested, amqpType: "acquisition.completed")
        }
    }

    @Test func refusesAMessageOfAnotherType() {
        let body = MessageCodec.encode(acquisition)
        #expect(throws: ContractError.wrongType(expected: "object.registered", found: "acquisition.completed")) {
            try MessageCodec.decode(ObjectRegistered.self, from: body, amqpType: "acquisition.completed")
        }
        #expect(throws: ContractError.wrongType(expected: "acquisition.completed", found: nil)) {
            try MessageCodec.decode(AcquisitionCompleted.self, from: body, amqpType: nil)
        }
    }

    @Test func servicesConsumeWhatTheArchitectureDraws() {
        #expect(ServiceName.converter.consumedKeys == [.objectRegistered])
        #expect(ServiceName.metadata.consumedKeys == [.objectConverted])
        #expect(ServiceName.qc.consumedKeys == [.metadataExtracted])
        #expect(ServiceName.doi.consumedKeys == [.datasetPublishRequested])
        #expect(Set(ServiceName.allCases.map(\.defaultHTTPPort)).count == 6)
    }
}
