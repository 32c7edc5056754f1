import FairwayMetadata
import Foundation
import Testing

/// Acquisition dates as files write them, turned into instants for range search; anything else
/// gives no instant (the text is still kept).
@Suite struct AcquisitionDateTests {
    let iso = ISO8601DateFormatter()

    @Test func theFormsImagesUseBecomeInstants() {
        #expect(AcquisitionDate.instant("2025-03-14T15:09:26") == iso.date(from: "2025-03-14T15:09:26Z"))
        #expect(AcquisitionDate.instant("2025-03-14T15:09:26Z") == iso.date(from: "2025-03-14T15:09:26Z"))
        #expect(AcquisitionDate.instant("2025-03-14T15:09:26+02:00") == iso.date(from: "2025-03-14T13:09:26Z"))
        #expect(AcquisitionDate.instant("2025-03-14T15:09:26-0530") == iso.date(from: "2025-03-14T20:39:26Z"))
        #expect(AcquisitionDate.instant("2025-03-14") == iso.date(from: "2025-03-14T00:00:00Z"))
        #expect(AcquisitionDate.instant("2025:03:14 15:09:26") == iso.date(from: "2025-03-14T15:09:26Z"))
        #expect(AcquisitionDate.instant("2025-03-14T15:09") == iso.date(from: "2025-03-14T15:09:00Z"))
        let fractional = AcquisitionDate.instant("2025-03-14T15:09:26.250")
        #expect(fractional.map { abs($0.timeIntervalSince(iso.date(from: "2025-03-14T15:09:26Z")!) - 0.25) < 1e-6 } == true)
    }

    @Test func anythingElseGivesNoInstant() {
        for text in ["", "yesterday", "2025-13-01", "2025-02-30", "2025-03-14T25:00:00", "2025-03-14T15:61:00", "2025-03-14T15:09:26+24:00",
                     "2025-03-14T15:09:26 junk", "0001-01-01", "2025-03-14T15:09:26.", String(repeating: "9", count: 100_000), "２０２５-03-14"] {
            #expect(AcquisitionDate.instant(text) == nil, "\(text.prefix(40))")
        }
    }
}
