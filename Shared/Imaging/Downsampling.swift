/// Halving in X and Y for the resolution pyramid: each output pixel is the mean of its 2 × 2 source
/// block (rounded half up for integers), edges repeating the last row or column so no pixel is
/// dropped. The mean keeps intensities comparable across levels, unlike taking every other pixel.
enum Downsampling {
    /// Halves `rows` rows of `width` pixels at `source` into `(rows + 1) / 2` rows of `(width + 1) / 2` pixels at `target`.
    static func halve(_ type: PixelType, source: UnsafeRawPointer, width: Int, rows: Int, into target: UnsafeMutableRawPointer) {
        switch type {
        case .uint8: halve(UInt8.self, source, width, rows, target)
        case .int8: halve(Int8.self, source, width, rows, target)
        case .uint16: halve(UInt16.self, source, width, rows, target)
        case .int16: halve(Int16.self, source, width, rows, target)
        case .uint32: halve(UInt32.self, source, width, rows, target)
        case .int32: halve(Int32.self, source, width, rows, target)
        case .float: halve(Float.self, source, width, rows, target)
        case .double: halve(Double.self, source, width, rows, target)
        }
    }

    private static func halve<T: BlockMean>(_: T.Type, _ source: UnsafeRawPointer, _ width: Int, _ rows: Int, _ target: UnsafeMutableRawPointer) {
        let input = source.assumingMemoryBound(to: T.self), output = target.assumingMemoryBound(to: T.self)
        let outWidth = (width + 1) / 2, pairs = width / 2
        for y in 0 ..< (rows + 1) / 2 {
            let top = input + 2 * y * width
            // The last row of an odd height is its own pair (edge repeated).
            let bottom = 2 * y + 1 < rows ? top + width : top
            let out = output + y * outWidth
            for x in 0 ..< pairs {
                out[x] = T.mean(top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1])
            }
            if pairs < outWidth { out[pairs] = T.mean(top[width - 1], top[width - 1], bottom[width - 1], bottom[width - 1]) }
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

extension Downsampling {
    /// Copies sample `sample` of `count` pixels of `samples` interleaved samples into `target`.
    static func pick(sample: Int, of samples: Int, from source: UnsafeRawPointer, count: Int, bytes: Int, into target: UnsafeMutableRawPointer) {
        func run<T>(_: T.Type) {
            let input = source.assumingMemoryBound(to: T.self), output = target.assumingMemoryBound(to: T.self)
            for index in 0 ..< count { output[index] = input[index * samples + sample] }
        }
        switch bytes {
        case 1: run(UInt8.self)
        case 2: run(UInt16.self)
        case 4: run(UInt32.self)
        default: run(UInt64.self)
        }
    }
}

/// The mean of a 2 × 2 block in a pixel type: integers widened and rounded half up, floats exact.
protocol BlockMean {
    static func mean(_ a: Self, _ b: Self, _ c: Self, _ d: Self) -> Self
}

extension BlockMean where Self: FixedWidthInteger {
    @inline(__always)
    static func mean(_ a: Self, _ b: Self, _ c: Self, _ d: Self) -> Self {
        Self(truncatingIfNeeded: (Int64(a) + Int64(b) + Int64(c) + Int64(d) + 2) >> 2)
    }
}

extension BlockMean where Self: BinaryFloatingPoint {
    @inline(__always)
    static func mean(_ a: Self, _ b: Self, _ c: Self, _ d: Self) -> Self { (a + b + c + d) * 0.25 }
}

extension UInt8: BlockMean {}
extension Int8: BlockMean {}
extension UInt16: BlockMean {}
extension Int16: BlockMean {}
extension UInt32: BlockMean {}
extension Int32: BlockMean {}
extension Float: BlockMean {}
extension Double: BlockMean {}
