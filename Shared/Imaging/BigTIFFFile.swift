import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A BigTIFF written front to back: tile data is appended as it is produced and each IFD is
/// written after its tiles, so no level or plane has to be held until the end. Little-endian.
/// Appends go through a 4 MiB buffer. One thread uses it at a time (the converter hands it from
/// the band in flight back to the caller), hence the unchecked Sendable.
final class BigTIFFFile: @unchecked Sendable {
    /// TIFF field types used here.
    enum FieldType: UInt16 { case ascii = 2, short = 3, long = 4, long8 = 16, ifd8 = 18 }

    struct Entry {
        var tag: UInt16
        var type: FieldType
        var count: UInt64
        var payload: [UInt8]

        static func short(_ tag: UInt16, _ values: UInt16...) -> Entry {
            Entry(tag: tag, type: .short, count: UInt64(values.count), payload: values.flatMap { $0.littleEndianBytes })
        }
        static func long(_ tag: UInt16, _ value: UInt32) -> Entry {
            Entry(tag: tag, type: .long, count: 1, payload: value.littleEndianBytes)
        }
        static func long8(_ tag: UInt16, _ values: [UInt64], type: FieldType = .long8) -> Entry {
            var payload = [UInt8]()
            payload.reserveCapacity(values.count * 8)
            for value in values { payload += value.littleEndianBytes }
            return Entry(tag: tag, type: type, count: UInt64(values.count), payload: payload)
        }
        static func ascii(_ tag: UInt16, _ text: String) -> Entry {
            let bytes = Array(text.utf8.filter { $0 != 0 }) + [0]
            return Entry(tag: tag, type: .ascii, count: UInt64(bytes.count), payload: bytes)
        }
    }

    let path: String
    private let fd: Int32
    private(set) var end: UInt64 = 16
    /// Where the previous top-level IFD keeps its "next IFD" offset (the header's at first).
    private var previousNext: UInt64 = 8

    init(creating path: String) throws(TIFFError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TIFFError("\(path): cannot create: \(String(cString: strerror(errno)))", isOutputFailure: true) }
        // "II", 43, offset size 8, reserved 0, first IFD offset (patched when written).
        try write([0x49, 0x49, 43, 0, 8, 0, 0, 0] + UInt64(0).littleEndianBytes, at: 0)
    }

    deinit {
        close(fd)
        buffer.deallocate()
    }

    private var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
    private var buffered = 0

    /// Appends bytes at the end of the file, returning where they start.
    @discardableResult
    func append(_ bytes: [UInt8]) throws(TIFFError) -> UInt64 {
        try bytes.withUnsafeBytes { raw in Result { () throws(TIFFError) in try append(raw) } }.get()
    }

    @discardableResult
    func append(_ bytes: UnsafeRawBufferPointer) throws(TIFFError) -> UInt64 {
        let offset = end
        if buffered + bytes.count > buffer.count { try flush() }
        if bytes.count >= buffer.count {
            try write(bytes, at: offset)
        } else {
            UnsafeMutableRawBufferPointer(rebasing: buffer[buffered ..< buffered + bytes.count]).copyMemory(from: bytes)
            buffered += bytes.count
        }
        end += UInt64(bytes.count)
        return offset
    }

    /// Writes out what `append` buffered.
    func flush() throws(TIFFError) {
        guard buffered > 0 else { return }
        try write(UnsafeRawBufferPointer(rebasing: buffer[0 ..< buffered]), at: end - UInt64(buffered))
        buffered = 0
    }

    /// Writes an IFD (entries sorted by tag) with its out-of-line values just before it, and
    /// returns its offset. A top-level IFD is linked from the previous one; a SubIFD is not.
    @discardableResult
    func writeIFD(_ entries: [Entry], topLevel: Bool) throws(TIFFError) -> UInt64 {
        var entries = entries.sorted { $0.tag < $1.tag }
        for index in entries.indices where entries[index].payload.count > 8 {
            try align()
            let offset = try append(entries[index].payload)
            entries[index].payload = offset.littleEndianBytes
        }
        try align()
        var ifd = UInt64(entries.count).littleEndianBytes
        ifd.reserveCapacity(8 + entries.count * 20 + 8)
        for entry in entries {
            ifd += entry.tag.littleEndianBytes + entry.type.rawValue.littleEndianBytes + entry.count.littleEndianBytes
            ifd += entry.payload + [UInt8](repeating: 0, count: 8 - entry.payload.count)
        }
        ifd += UInt64(0).littleEndianBytes
        let offset = try append(ifd)
        if topLevel {
            try flush()
            try write(offset.littleEndianBytes, at: previousNext)
            previousNext = offset + UInt64(ifd.count) - 8
        }
        return offset
    }

    /// Flushes the file to stable storage (before the atomic rename that publishes it).
    func sync() throws(TIFFError) {
        try flush()
        guard fsync(fd) == 0 else { throw TIFFError("\(path): fsync failed: \(String(cString: strerror(errno)))", isOutputFailure: true) }
    }

    private func align() throws(TIFFError) {
        if end % 8 != 0 { try append([UInt8](repeating: 0, count: Int(8 - end % 8))) }
    }

    private func write(_ bytes: [UInt8], at offset: UInt64) throws(TIFFError) {
        try bytes.withUnsafeBytes { raw in Result { () throws(TIFFError) in try write(raw, at: offset) } }.get()
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(TIFFError) {
        var done = 0
        while done < bytes.count {
            let written = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if written < 0 {
                if errno == EINTR { continue }
                throw TIFFError("\(path): write failed: \(String(cString: strerror(errno)))", isOutputFailure: true)
            }
            done += written
        }
    }
}

extension FixedWidthInteger {
    var littleEndianBytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }
}
