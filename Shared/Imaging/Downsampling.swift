/// Halving in X and Y for the resolution pyramid: each output pixel is the mean of its 2 × 2 source
/// block (rounded half up for integers), edges repeating the last row or column so no pixel is
/// dropped. The mean keeps intensities comparable across levels, unlike taking every other pixel.
enum Downsampling {
    /// Halves `rows` rows of `width` pixels at `source` into `(rows + 1) / 2` rows of `(width + 1) / 2` pixels at `target`.
    static func halve(_ type: PixelType, source: UnsafeRawPointer, width: Int, rows: Int, into target: UnsafeMutableRawPointer) {
        switch type {
        case .uint8: integer(UInt8.self, source, width, rows, target)
        case .int8: integer(Int8.self, source, width, rows, target)
        case .uint16: integer(UInt16.self, source, width, rows, target)
        case .int16: integer(Int16.self, source, width, rows, target)
        case .uint32: integer(UInt32.self, source, width, rows, target)
        case .int32: integer(Int32.self, source, width, rows, target)
        case .float: floating(Float.self, source, width, rows, target)
        case .double: floating(Double.self, source, width, rows, target)
        }
    }

    private static func integer<T: FixedWidthInteger>(_: T.Type, _ source: UnsafeRawPointer, _ width: Int, _ rows: Int, _ target: UnsafeMutableRawPointer) {
        let input = source.assumingMemoryBound(to: T.self), output = target.assumingMemoryBound(to: T.self)
        let outWidth = (width + 1) / 2, pairs = width / 2
        for y in 0 ..< (rows + 1) / 2 {
            let top = input + 2 * y * width
            let bottom = 2 * y + 1 < rows ? top + width : top
            let out = output + y * outWidth
            for x in 0 ..< pairs {
                let sum = Int64(top[2 * x]) + Int64(top[2 * x + 1]) + Int64(bottom[2 * x]) + Int64(bottom[2 * x + 1])
                out[x] = T(truncatingIfNeeded: (sum + 2) >> 2)
            }
            if pairs < outWidth {
                let sum = 2 * (Int64(top[width - 1]) + Int64(bottom[width - 1]))
                out[pairs] = T(truncatingIfNeeded: (sum + 2) >> 2)
            }
        }
    }

    private static func floating<T: BinaryFloatingPoint>(_: T.Type, _ source: UnsafeRawPointer, _ width: Int, _ rows: Int, _ target: UnsafeMutableRawPointer) {
        let input = source.assumingMemoryBound(to: T.self), output = target.assumingMemoryBound(to: T.self)
        let outWidth = (width + 1) / 2, pairs = width / 2
        for y in 0 ..< (rows + 1) / 2 {
            let top = input + 2 * y * width
            let bottom = 2 * y + 1 < rows ? top + width : top
            let out = output + y * outWidth
            for x in 0 ..< pairs {
                out[x] = (top[2 * x] + top[2 * x + 1] + bottom[2 * x] + bottom[2 * x + 1]) * 0.25
            }
            if pairs < outWidth { out[pairs] = (top[width - 1] + bottom[width - 1]) * 0.5 }
        }
    }

    /// Splits `count` pixels of `channels` interleaved samples into one buffer per channel.
    static func deinterleave(_ source: UnsafeRawPointer, count: Int, channels: Int, bytes: Int, into targets: [UnsafeMutableRawPointer]) {
        func run<T>(_: T.Type) {
            let input = source.assumingMemoryBound(to: T.self)
            for (channel, target) in targets.enumerated() {
                let output = target.assumingMemoryBound(to: T.self)
                for index in 0 ..< count { output[index] = input[index * channels + channel] }
            }
        }
        switch bytes {
        case 1: run(UInt8.self)
        case 2: run(UInt16.self)
        case 4: run(UInt32.self)
        default: run(UInt64.self)
        }
    }
}
