/// A pixel type a scan reads: integers of 8 and 16 bits are binned exactly, the others linearly.
protocol ScanSample {
    static var exactBins: Bool { get }
    /// The type's smallest value (the origin of exact bins).
    static var minimumValue: Int { get }
    var real: Double { get }
    /// The exact bin (value − minimum); used only when `exactBins`.
    var exactBin: Int { get }
    /// The same in 32 bits, for the vectorized integer loops.
    var exactBin32: Int32 { get }
    var isFinite: Bool { get }
}

extension ScanSample where Self: FixedWidthInteger {
    static var exactBins: Bool { bitWidth <= 16 }
    static var minimumValue: Int { Int(Self.min) }
    var real: Double { Double(self) }
    var exactBin: Int { Int(self) &- Int(Self.min) }
    var exactBin32: Int32 { Int32(truncatingIfNeeded: Int(self) &- Int(Self.min)) }
    var isFinite: Bool { true }
}

extension ScanSample where Self: BinaryFloatingPoint {
    static var exactBins: Bool { false }
    static var minimumValue: Int { 0 }
    var real: Double { Double(self) }
    var exactBin: Int { 0 }
    var exactBin32: Int32 { 0 }
}

extension UInt8: ScanSample {}
extension Int8: ScanSample {}
extension UInt16: ScanSample {}
extension Int16: ScanSample {}
extension UInt32: ScanSample {}
extension Int32: ScanSample {}
extension Float: ScanSample {}
extension Double: ScanSample {}

/// The side of the square blocks whose means and noise give the background, the bright level,
/// the photon-transfer estimate and the field uniformity: 16 × 16 = 256 pixels, so a block
/// mean's noise is 1/16 of a pixel's.
let blockSide = 16

/// Everything one channel's metrics are computed from, accumulated over its planes in one pass
/// over the pixels (two for linearly binned types: the first finds the range). Memory is a few
/// histograms, per-column sums for one row of blocks and three binned rows: never a plane.
final class ChannelScan {
    let width: Int
    let scale: BinScale
    /// Values at or above this are saturated (nil: the type has no detector maximum).
    let saturationLevel: Double?
    /// Unsigned integers clip at zero, so a block touching 0 is left out of the noise fit.
    let zeroClips: Bool

    /// Pixel values by bin.
    private(set) var histogram: [UInt64]
    /// Horizontal neighbour differences (in bins) on every 4th row: bin `d + scale.count − 1`.
    private(set) var differences: [UInt64]
    /// 16 × 16 block means by bin (rounded half up to the nearest bin).
    private(set) var blockMeans: [UInt64]
    /// (mean, variance) of blocks that touch neither zero nor saturation, thinned evenly.
    private(set) var blocks = BlockSample()
    private(set) var pixels: Int64 = 0
    /// Counted pixel by pixel only for linearly binned types (exact types read them from the histogram).
    private(set) var saturatedCount: Int64 = 0, zeroCount: Int64 = 0, nonFinite: Int64 = 0
    /// Variance of the Laplacian of each plane's 4 × 4 binning, in scan order (nil: plane under 12 × 12).
    private(set) var focus: [Double?] = []
    /// 100 · min / max of the plane's block means (nil: no full block, or a zero maximum).
    private(set) var uniformity: [Double?] = []

    private var counts: UnsafeMutablePointer<UInt32>
    private var countedSinceFlush = 0

    init(width: Int, scale: BinScale, saturationLevel: Double?, zeroClips: Bool) {
        self.width = width; self.scale = scale
        self.saturationLevel = saturationLevel; self.zeroClips = zeroClips
        histogram = [UInt64](repeating: 0, count: scale.count)
        differences = [UInt64](repeating: 0, count: 2 * scale.count - 1)
        blockMeans = [UInt64](repeating: 0, count: scale.count)
        counts = .allocate(capacity: scale.count)
        counts.initialize(repeating: 0, count: scale.count)
    }

    deinit { counts.deallocate() }

    /// Scans one plane of type `T` whose rows arrive in bands from top to bottom.
    func scanPlane<T: ScanSample & Comparable>(_: T.Type, bands: (_ body: (UnsafeRawBufferPointer, Int, Int) -> Void) throws -> Void) rethrows {
        let plane = PlaneState<T>(width: width)
        defer { plane.release() }
        try bands { raw, first, rows in
            let band = raw.bindMemory(to: T.self)
            for row in 0 ..< rows {
                scanRow(band.baseAddress! + row * width, y: first + row, plane: plane)
            }
        }
        focus.append(plane.laplacianCount > 0 ? plane.laplacianVariance : nil)
        uniformity.append(plane.maxBlockMean > 0 && plane.maxBlockMean.isFinite ? 100 * plane.minBlockMean / plane.maxBlockMean : nil)
        flushCounts()
    }

    private func scanRow<T: ScanSample & Comparable>(_ row: UnsafePointer<T>, y: Int, plane: PlaneState<T>) {
        let width = self.width
        // Values: exact bins straight from the value; linear ones through the scale, with the
        // extremes counted here since a bin is wider than one value.
        if T.exactBins {
            let counts = self.counts
            for x in 0 ..< width { counts[row[x].exactBin] &+= 1 }
        } else {
            for x in 0 ..< width {
                let value = row[x]
                guard value.isFinite else { nonFinite += 1; continue }
                let real = value.real
                counts[scale.bin(real)] &+= 1
                if real == 0 { zeroCount += 1 }
                if let level = saturationLevel, real >= level { saturatedCount += 1 }
            }
        }
        countedSinceFlush += width
        if countedSinceFlush > Int(UInt32.max) - width { flushCounts() }
        pixels += Int64(width)

        if y % 4 == 0, width > 1 { countDifferences(row) }
        plane.accumulate(row, y: y)
        if (y + 1) % blockSide == 0 { closeBlockRow(plane) }
    }

    private func countDifferences<T: ScanSample>(_ row: UnsafePointer<T>) {
        let offset = scale.count - 1
        if T.exactBins {
            differences.withUnsafeMutableBufferPointer { counts in
                var previous = row[0].exactBin
                for x in 1 ..< width {
                    let bin = row[x].exactBin
                    counts[bin &- previous &+ offset] &+= 1
                    previous = bin
                }
            }
        } else {
            for x in 1 ..< width where row[x].isFinite && row[x - 1].isFinite {
                differences[scale.bin(row[x].real) - scale.bin(row[x - 1].real) + offset] += 1
            }
        }
    }

    /// Sixteen rows are in: each full block's mean, and its noise variance from second
    /// differences along its even rows (x[i−1] − 2x[i] + x[i+1] has 6σ² of white noise and cancels
    /// any linear gradient, so smooth structure inside a block barely counts as noise).
    private func closeBlockRow<T: ScanSample & Comparable>(_ plane: PlaneState<T>) {
        let n = Double(blockSide * blockSide), differences = Double(6 * (blockSide - 2) * (blockSide / 2))
        for block in 0 ..< width / blockSide {
            let first = block * blockSide
            var sum = 0.0, curvature = 0.0
            var low = plane.columnMin[first], high = plane.columnMax[first]
            if T.exactBins {
                var bins: Int32 = 0
                for x in first ..< first + blockSide { bins &+= plane.binSum[x] }
                sum = Double(bins) + n * Double(T.minimumValue)
            } else {
                for x in first ..< first + blockSide { sum += plane.columnSum[x] }
            }
            for x in first ..< first + blockSide { low = min(low, plane.columnMin[x]); high = max(high, plane.columnMax[x]) }
            for x in first + 1 ..< first + blockSide - 1 { curvature += Double(plane.columnCurvature[x]) }
            let mean = sum / n
            guard mean.isFinite, curvature.isFinite else { continue }
            blockMeans[min(scale.count - 1, max(0, Int(((mean - scale.origin) / scale.width + 0.5).rounded(.down))))] += 1
            plane.minBlockMean = min(plane.minBlockMean, mean)
            plane.maxBlockMean = max(plane.maxBlockMean, mean)
            let clipped = (zeroClips && low.real <= 0) || saturationLevel.map { high.real >= $0 } ?? false
            if !clipped { blocks.add(mean: mean, variance: curvature / differences) }
        }
        plane.resetColumns()
    }

    private func flushCounts() {
        for bin in 0 ..< scale.count where counts[bin] != 0 {
            histogram[bin] &+= UInt64(counts[bin])
            counts[bin] = 0
        }
        countedSinceFlush = 0
    }
}

/// The side of the bins the focus is measured on: 4 × 4 means keep structure a few pixels
/// across and average out the pixel noise that dominates a full-resolution Laplacian at low light.
let focusBinning = 4

/// What a plane's scan keeps between rows: per-column sums for the current row of blocks, the
/// 4 × 4-binned rows the Laplacian needs (three), and the Laplacian's sums.
final class PlaneState<T: ScanSample & Comparable> {
    let width: Int
    let columnSum: UnsafeMutablePointer<Double>
    /// Exactly binned types sum their bins in 32 bits (16 rows of 16-bit values fit).
    let binSum: UnsafeMutablePointer<Int32>
    let columnCurvature: UnsafeMutablePointer<Float>
    let columnMin: UnsafeMutablePointer<T>
    let columnMax: UnsafeMutablePointer<T>
    private var columnsFresh = true
    /// Binned rows: each bin's column sums at the last binned row, and a ring of the last three.
    let binnedWidth: Int
    private let binning: UnsafeMutablePointer<Double>
    private let binBinning: UnsafeMutablePointer<Int32>
    private let binnedRows: UnsafeMutablePointer<Double>
    private var completeBinnedRows = 0
    var laplacianSum = 0.0, laplacianSquares = 0.0, laplacianCount = 0
    var minBlockMean = Double.infinity, maxBlockMean = -Double.infinity

    init(width: Int) {
        self.width = width
        binnedWidth = width / focusBinning
        columnSum = .allocate(capacity: width); columnSum.initialize(repeating: 0, count: width)
        binSum = .allocate(capacity: width); binSum.initialize(repeating: 0, count: width)
        columnCurvature = .allocate(capacity: width); columnCurvature.initialize(repeating: 0, count: width)
        columnMin = .allocate(capacity: width)
        columnMax = .allocate(capacity: width)
        binning = .allocate(capacity: max(1, binnedWidth)); binning.initialize(repeating: 0, count: max(1, binnedWidth))
        binBinning = .allocate(capacity: max(1, binnedWidth)); binBinning.initialize(repeating: 0, count: max(1, binnedWidth))
        binnedRows = .allocate(capacity: 3 * max(1, binnedWidth))
    }

    func release() {
        columnSum.deallocate(); binSum.deallocate(); columnCurvature.deallocate(); columnMin.deallocate(); columnMax.deallocate()
        binning.deallocate(); binBinning.deallocate(); binnedRows.deallocate()
    }

    var laplacianVariance: Double {
        let count = Double(laplacianCount), mean = laplacianSum / count
        return max(0, laplacianSquares / count - mean * mean)
    }

    func accumulate(_ row: UnsafePointer<T>, y: Int) {
        let width = self.width, low = columnMin, high = columnMax
        if columnsFresh {
            low.update(from: row, count: width)
            high.update(from: row, count: width)
            columnsFresh = false
        }
        if T.exactBins { accumulateBins(row, y: y) } else { accumulateValues(row, y: y) }
        // Unconditional stores: the loop vectorizes.
        for x in 0 ..< width {
            let value = row[x]
            low[x] = min(low[x], value)
            high[x] = max(high[x], value)
        }
        if binnedWidth > 0, y % focusBinning == focusBinning - 1 { completeBinnedRow() }
    }

    /// 8- and 16-bit integers: sums and second differences in 32-bit integers, which vectorize;
    /// the squared differences, which outgrow 32 bits, in single precision (a noise estimate needs
    /// no more than its 7 digits). Second differences are taken on even rows: half the work, and
    /// still 112 per block.
    private func accumulateBins(_ row: UnsafePointer<T>, y: Int) {
        let width = self.width, sum = binSum, curvature = columnCurvature
        for x in 0 ..< width { sum[x] &+= row[x].exactBin32 }
        if width >= 3, y % 2 == 0 {
            for x in 1 ..< width - 1 {
                let d = Float(row[x - 1].exactBin32 &- 2 &* row[x].exactBin32 &+ row[x + 1].exactBin32)
                curvature[x] += d * d
            }
        }
    }

    private func accumulateValues(_ row: UnsafePointer<T>, y: Int) {
        let width = self.width, sum = columnSum, curvature = columnCurvature
        for x in 0 ..< width { sum[x] += row[x].real }
        if width >= 3, y % 2 == 0 {
            for x in 1 ..< width - 1 {
                let d = row[x - 1].real - 2 * row[x].real + row[x + 1].real
                curvature[x] += Float(d * d)
            }
        }
    }

    /// A binned row is complete: into the ring, and the Laplacian of the row before it.
    private func completeBinnedRow() {
        let slot = binnedRows + (completeBinnedRows % 3) * binnedWidth
        let scale = 1 / Double(focusBinning * focusBinning)
        // A 4 × 4 bin is four columns' sums since the last binned row (column sums restart
        // with each row of blocks, a multiple of 4 rows).
        if T.exactBins {
            let sum = binSum, since = binBinning
            for x in 0 ..< binnedWidth {
                let at = x * focusBinning
                let total = (sum[at] &+ sum[at + 1]) &+ (sum[at + 2] &+ sum[at + 3])
                slot[x] = Double(total &- since[x]) * scale
                since[x] = total
            }
        } else {
            let sum = columnSum, since = binning
            for x in 0 ..< binnedWidth {
                let at = x * focusBinning
                let total = (sum[at] + sum[at + 1]) + (sum[at + 2] + sum[at + 3])
                slot[x] = (total - since[x]) * scale
                since[x] = total
            }
        }
        completeBinnedRows += 1
        guard completeBinnedRows >= 3, binnedWidth >= 3 else { return }
        let below = slot
        let middle = binnedRows + ((completeBinnedRows - 2) % 3) * binnedWidth
        let above = binnedRows + ((completeBinnedRows - 3) % 3) * binnedWidth
        var s0 = 0.0, s1 = 0.0, q0 = 0.0, q1 = 0.0
        var x = 1
        while x + 2 <= binnedWidth - 1 {
            let l0 = above[x] + below[x] + middle[x - 1] + middle[x + 1] - 4 * middle[x]
            let l1 = above[x + 1] + below[x + 1] + middle[x] + middle[x + 2] - 4 * middle[x + 1]
            s0 += l0; q0 += l0 * l0; s1 += l1; q1 += l1 * l1
            x += 2
        }
        if x < binnedWidth - 1 {
            let l = above[x] + below[x] + middle[x - 1] + middle[x + 1] - 4 * middle[x]
            s0 += l; q0 += l * l
        }
        guard (s0 + s1).isFinite, (q0 + q1).isFinite else { return }
        laplacianSum += s0 + s1
        laplacianSquares += q0 + q1
        laplacianCount += binnedWidth - 2
    }

    func resetColumns() {
        columnSum.update(repeating: 0, count: width)
        binSum.update(repeating: 0, count: width)
        binning.update(repeating: 0, count: max(1, binnedWidth))
        binBinning.update(repeating: 0, count: max(1, binnedWidth))
        columnCurvature.update(repeating: 0, count: width)
        columnsFresh = true
    }
}

/// Block (mean, variance) pairs kept for the photon-transfer fit, thinned evenly when there are
/// too many: block i (in scan order) is kept when i is a multiple of the stride, which doubles
/// whenever more than `capacity` are kept. The result is every stride-th block, whatever the size.
struct BlockSample {
    static let capacity = 1 << 15
    private(set) var means: [Double] = []
    private(set) var variances: [Double] = []
    private(set) var stride = 1
    private(set) var seen = 0

    mutating func add(mean: Double, variance: Double) {
        defer { seen += 1 }
        guard seen % stride == 0 else { return }
        means.append(mean); variances.append(variance)
        if means.count > Self.capacity {
            means = means.enumerated().compactMap { $0.offset % 2 == 0 ? $0.element : nil }
            variances = variances.enumerated().compactMap { $0.offset % 2 == 0 ? $0.element : nil }
            stride *= 2
        }
    }
}
