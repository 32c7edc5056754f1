@testable import FairwayImaging
import Testing

/// The ImageJ description is outside data: counts, calibration and hostile variants.
@Suite struct ImageJDescriptionTests {
    @Test func hyperstackAndCalibrationAreRead() throws {
        let text = "ImageJ=1.54f\nimages=30\nchannels=2\nslices=5\nframes=3\nhyperstack=true\nunit=\\u00B5m\nspacing=1.5\nfinterval=2.0\nloop=false\n"
        let description = try #require(try ImageJDescription(text))
        #expect(description.channels == 2 && description.slices == 5 && description.frames == 3 && description.images == 30)
        #expect(description.micrometresPerUnit == 1 && description.spacing == 1.5 && description.frameInterval == 2)
        #expect(try ImageJDescription("ImageJ=1.x\nimages=7\nunit=nm\n")?.slices == 7)
        #expect(try ImageJDescription("ImageJ=1.x\nimages=7\nunit=nm\n")?.micrometresPerUnit == 1e-3)
        #expect(try ImageJDescription("ImageJ=\r\nunit=parsec\r\n")?.micrometresPerUnit == nil)
        #expect(try ImageJDescription("{\"shape\": [1, 2]}") == nil)
    }

    @Test func hostileDescriptionsAreRefusedByName() {
        for (text, words) in [
            ("ImageJ=1\nimages=6\nchannels=2\nslices=2\n", "is not images=6"),
            ("ImageJ=1\nimages=-1\n", "images=-1 is not a count"),
            ("ImageJ=1\nimages=99999999999999999999\n", "is not a count"),
            ("ImageJ=1\nchannels=16777216\nslices=16777216\nframes=16777216\nimages=1\n", "is not images=1"),
            ("ImageJ=1\nspacing=nan\n", "spacing=nan is not a positive number"),
            ("ImageJ=1\nfinterval=-3\n", "finterval=-3 is not a positive number"),
            ("ImageJ=1\n" + String(repeating: "x=1\n", count: 20_000), "longer than"),
        ] {
            #expect(throws: TIFFError.self, "\(text.prefix(60))") { try ImageJDescription(text) }
            do { _ = try ImageJDescription(text) } catch { #expect(error.description.contains(words), "\(error)") }
        }
    }

    @Test func tiffDatesBecomeISOOrNothing() {
        #expect(SourceImage.isoDate("2026:11:02 09:14:00") == "2026-11-02T09:14:00")
        #expect(SourceImage.isoDate("2026-11-02T09:14:00\0") == "2026-11-02T09:14:00")
        for bad in ["", "2026:13:02 09:14:00", "0000:00:00 00:00:00", "2026:11:02 25:14:00", "2026:11:02 09:14", "<script>:11:02 09:14:00", "２０２６:11:02 09:14:00"] {
            #expect(SourceImage.isoDate(bad) == nil, "\(bad)")
        }
    }
}
