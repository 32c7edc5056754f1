/// How pixel values map to histogram bins. 8- and 16-bit integers have one bin per value, so
/// every statistic read from their histograms is exact; 32-bit integers and floating-point data
/// are binned linearly over the range measured in a first pass (65,536 bins), so their
/// percentiles are exact to one bin width.
struct BinScale: Sendable, Equatable {
    /// The value of bin 0's lower edge (the type's minimum for exact bins).
    let origin: Double
    /// Value units per bin (1 for exact bins).
    let width: Double
    let count: Int
    let exact: Bool

    static let linearBins = 65_536

    static func exact(minimum: Int, count: Int) -> BinScale {
        BinScale(origin: Double(minimum), width: 1, count: count, exact: true)
    }

    /// Bins over `low ... high` (a constant image gets a one-unit range).
    static func linear(low: Double, high: Double) -> BinScale {
        let span = high > low ? high - low : 1
        return BinScale(origin: low, width: span / Double(linearBins - 1), count: linearBins, exact: false)
    }

    /// The value a (possibly fractional) bin position stands for: its lower edge.
    func value(_ bin: Double) -> Double { origin + bin * width }

    /// The bin of a value, clamped to the histogram.
    @inline(__always)
    func bin(_ value: Double) -> Int {
        let position = ((value - origin) / width).rounded(.down)
        return position < 0 ? 0 : position >= Double(count - 1) ? count - 1 : Int(position)
    }
}

/// Order statistics read from a histogram of counts.
enum HistogramStatistics {
    /// The nearest-rank percentile: the smallest bin whose cumulative count reaches ⌈q·N⌉ (at
    /// least 1), as numpy's `percentile(method="inverted_cdf")`. `q` is in thousandths and the
    /// rank is computed in integers, so 0.1 % of 192,000 is rank 192, not 193.
    static func percentile(_ histogram: [UInt64], perMille q: UInt64) -> Int? {
        let total = histogram.reduce(0, &+)
        guard total > 0 else { return nil }
        let (product, overflow) = q.multipliedReportingOverflow(by: total)
        let rank = max(1, overflow ? UInt64((Double(q) * Double(total) / 1000).rounded(.up)) : (product + 999) / 1000)
        var seen: UInt64 = 0
        for (bin, count) in histogram.enumerated() {
            seen &+= count
            if seen >= rank { return bin }
        }
        return histogram.count - 1
    }

    /// The most populated bin among bins `0 ... upTo` (the lowest on ties).
    static func mode(_ histogram: [UInt64], upTo last: Int) -> Int? {
        var best: Int?
        for bin in 0 ... min(last, histogram.count - 1) where histogram[bin] > 0 && histogram[bin] > (best.map { histogram[$0] } ?? 0) {
            best = bin
        }
        return best
    }

    /// Median absolute deviation of the integer-valued differences counted in `histogram` (bin
    /// `i` holds one difference value, consecutive bins consecutive values), about their median, interpolated within its bin: the
    /// distance k stands for the continuous interval [k − ½, k + ½) (k = 0 for [0, ½)), so noise
    /// of a few grey levels is not rounded to whole levels.
    static func medianAbsoluteDeviation(_ histogram: [UInt64]) -> Double? {
        guard let medianBin = percentile(histogram, perMille: 500) else { return nil }
        let total = histogram.reduce(0, &+)
        // Counts by distance from the median difference.
        let reach = max(medianBin, histogram.count - 1 - medianBin)
        // Every difference the same: no noise at all (not a quarter of a grey level).
        if histogram[medianBin] == total { return 0 }
        let half = Double(total) / 2
        var below = 0.0
        for distance in 0 ... reach {
            var count = Double(histogram[medianBin])
            if distance > 0 {
                count = 0
                if medianBin - distance >= 0 { count += Double(histogram[medianBin - distance]) }
                if medianBin + distance < histogram.count { count += Double(histogram[medianBin + distance]) }
            }
            guard count > 0 else { continue }
            if below + count >= half {
                let lower = distance == 0 ? 0 : Double(distance) - 0.5
                let width = distance == 0 ? 0.5 : 1
                return lower + width * (half - below) / count
            }
            below += count
        }
        return nil
    }
}
