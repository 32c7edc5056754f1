import FairwayStorage
import Foundation
import Testing

/// Format detection reads offsets and counts from the file: every one of them may lie.
@Suite struct FormatSnifferTests {
    /// A minimal classic TIFF: header, one IFD with an ImageDescription (tag 270) stored after it.
    static func tiff(description: String?, littleEndian: Bool = true, extraEntries: Int = 0) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { littleEndian ? [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] : [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func u32(_ v: Int) -> [UInt8] { littleEndian ? u16(v & 0xFFFF) + u16(v >> 16) : u16(v >> 16) + u16(v & 0xFFFF) }
        var bytes: [UInt8] = (littleEndian ? Array("II".utf8) : Array("MM".utf8)) + u16(42) + u32(8)
        let text: [UInt8] = description.map { Array($0.utf8) + [0] } ?? []
        let entries = (description == nil ? 0 : 1) + extraEntries
        let valueOffset = 8 + 2 + entries * 12 + 4
        bytes += u16(entries)
        for index in 0 ..< extraEntries { bytes += u16(256 + index) + u16(3) + u32(1) + u32(64) }
        if description != nil { bytes += u16(270) + u16(2) + u32(text.count) + u32(valueOffset) }
        bytes += u32(0) + text
        return bytes
    }

    static func bigTIFF(description: String) -> [UInt8] {
        func le(_ v: UInt64, _ width: Int) -> [UInt8] { (0 ..< width).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        let text = Array(description.utf8) + [0]
        var bytes = Array("II".utf8) + le(43, 2) + le(8, 2) + le(0, 2) + le(16, 8)
        bytes += le(1, 8) + le(270, 2) + le(2, 2) + le(UInt64(text.count), 8) + le(16 + 8 + 20 + 8, 8) + le(0, 8) + text
        return bytes
    }

    func detect(_ bytes: [UInt8], name: String = "image.tif") -> FileFormat {
        FormatSniffer.detect(name: RawPath(name), size: Int64(bytes.count)) { offset, count in
            guard offset >= 0, offset < Int64(bytes.count) else { return [] }
            return Array(bytes[Int(offset) ..< min(bytes.count, Int(offset) + count)])
        }
    }

    @Test func tiffVariantsAreToldApartByContent() {
        let ome = #"<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"/></OME>"#
        #expect(detect(Self.tiff(description: ome)) == .omeTIFF)
        #expect(detect(Self.tiff(description: ome, littleEndian: false)) == .omeTIFF)
        #expect(detect(Self.tiff(description: #"<ome:OME xmlns:ome="http://www.openmicroscopy.org/Schemas/OME/2016-06"/>"#)) == .omeTIFF)
        #expect(detect(Self.tiff(description: "ImageJ=1.54f\nimages=30\nchannels=2\n")) == .imageJTIFF)
        #expect(detect(Self.tiff(description: "a plain camera description")) == .tiff)
        #expect(detect(Self.tiff(description: "<OMEGA>not OME</OMEGA>")) == .tiff)
        #expect(detect(Self.tiff(description: nil, extraEntries: 3)) == .tiff)
        #expect(detect(Self.bigTIFF(description: #"<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"/>"#)) == .omeTIFF)
        #expect(detect(Self.tiff(description: nil, extraEntries: 1), name: "scan.lsm") == .lsm)
        #expect(detect(Self.tiff(description: ome), name: "IMG.OME.TIF") == .omeTIFF)
    }

    @Test func vendorFormatsBySignatureOrExtension() {
        #expect(detect(Array("ZISRAWFILE".utf8) + [UInt8](repeating: 0, count: 22), name: "x.bin") == .czi)
        #expect(detect([0xDA, 0xCE, 0xBE, 0x0A] + [UInt8](repeating: 0, count: 12)) == .nd2)
        #expect(detect([0x70, 0, 0, 0, 9, 9, 9, 9, 0x2A, 0, 0, 0], name: "a.bin") == .lif)
        #expect(detect([0x89] + Array("HDF\r\n".utf8) + [0x1A, 0x0A], name: "a.ims") == .ims)
        #expect(detect([0x89] + Array("HDF\r\n".utf8) + [0x1A, 0x0A], name: "a.h5") == .hdf5)
        #expect(detect([0x89] + Array("PNG\r\n".utf8) + [0x1A, 0x0A]) == .png)
        #expect(detect(Array("anything".utf8), name: "slide.VSI") == .vsi)
        #expect(detect(Array("anything".utf8), name: "notes.txt") == .unknown)
        #expect(detect([], name: "empty") == .unknown)
    }

    @Test func lyingOffsetsAndCountsNeitherCrashNorReadOutOfBounds() {
        var base = Self.tiff(description: "<OME/>")
        // First IFD beyond the end, at 0, inside the header.
        for offset: UInt32 in [0, 4, 0xFFFF_FFF0, UInt32(base.count)] {
            var bytes = base
            bytes.replaceSubrange(4 ..< 8, with: withUnsafeBytes(of: offset.littleEndian, Array.init))
            #expect(detect(bytes) == .tiff, "IFD offset \(offset)")
        }
        // Entry count enormous; description length enormous; description offset beyond the end.
        var bytes = base
        bytes[8] = 0xFF; bytes[9] = 0xFF
        #expect(detect(bytes) == .tiff)
        bytes = base
        bytes.replaceSubrange(14 ..< 18, with: [0xFF, 0xFF, 0xFF, 0x7F])
        #expect(detect(bytes) == .tiff)
        bytes = base
        bytes.replaceSubrange(18 ..< 22, with: [0xF0, 0xFF, 0xFF, 0xFF])
        #expect(detect(bytes) == .tiff)
        // Truncated anywhere: never more than "tiff", never a crash.
        for length in 0 ..< base.count {
            let format = detect(Array(base.prefix(length)))
            #expect([.tiff, .unknown, .omeTIFF].contains(format), "truncated at \(length)")
        }
        // BigTIFF header with a bad offset size.
        var big = Self.bigTIFF(description: "<OME xmlns='x'/>")
        big[4] = 4
        #expect(detect(big) == .unknown)
        // Random bytes after a valid header.
        var generator = SystemRandomNumberGenerator()
        for _ in 0 ..< 200 {
            base = Array("II".utf8) + [42, 0] + (0 ..< 60).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
            _ = detect(base)
        }
    }
}
