import Foundation

/// Camera gain and offset estimated from the image itself by photon transfer (the mean–variance
/// relation of shot-noise-limited data): noise variance = gain · (mean − offset) (Janesick,
/// *Photon Transfer*, 2007). Each 16 × 16 block gives its mean and its noise variance from second
/// differences along its even rows (smooth structure cancels). Blocks are sorted by mean into up to 64
/// groups of equal size; each group gives its median mean and the lower quartile of its
/// variances (blocks across edges have more), divided by the lower quartile of χ²ₖ/k for the
/// k ≈ 60 degrees of freedom such a variance has, so the quartile estimates the variance itself.
/// A Theil–Sen line through the groups (the median of the slopes between groups at least 1/8 of
/// the level span apart: robust to outlying groups) gives the gain as its slope and the offset
/// where it crosses zero variance (read noise neglected).
enum PhotonTransfer {
    struct Estimate: Equatable {
        var gain: Double
        var offset: Double
        /// How it was obtained, for the report.
        var method: String
    }

    enum Outcome: Equatable {
        case estimated(Estimate)
        case unavailable(String)
    }

    /// Degrees of freedom of a block's second-difference variance: 8 rows of 14 squared
    /// differences, neighbours correlated (−2/3, then 1/6), so k = 2·mean²/variance of the sum
    /// = 2·(8·14·6)² / (8·2·(14·36 + 2·13·16 + 2·12·1)) ≈ 59.8 for Gaussian noise.
    static let degreesOfFreedom: Double = {
        let rows = Double(blockSide / 2), n = Double(blockSide - 2)
        let mean = rows * n * 6, variance = rows * 2 * (n * 36 + 2 * (n - 1) * 16 + 2 * (n - 2) * 1)
        return 2 * mean * mean / variance
    }()

    /// Lower quartile of χ²ₖ/k by Wilson–Hilferty: (1 − 2/9k + z·√(2/9k))³ with z = −0.6745.
    static let quartileCorrection: Double = {
        let a = 2 / (9 * degreesOfFreedom)
        return pow(1 - a - 0.674_489_75 * a.squareRoot(), 3)
    }()

    static let maxGroups = 64
    static let minBlocksPerGroup = 16

    static func estimate(means: [Double], variances: [Double]) -> Outcome {
        let count = means.count
        let groupCount = min(maxGroups, count / minBlocksPerGroup)
        guard groupCount >= 1 else {
            return .unavailable("not estimable: \(count) uniform 16×16 blocks, at least \(minBlocksPerGroup) needed")
        }
        // Sorted by mean, ties in scan order, so the groups are reproducible.
        var blocks = means.indices.map { (mean: means[$0], index: $0, variance: variances[$0]) }
        blocks.sort { $0.mean != $1.mean ? $0.mean < $1.mean : $0.index < $1.index }
        var levels: [Double] = [], spreads: [Double] = []
        for group in 0 ..< groupCount {
            let members = blocks[group * count / groupCount ..< (group + 1) * count / groupCount]
            let groupMeans = members.map(\.mean), groupVariances = members.map(\.variance).sorted()
            levels.append(groupMeans[(groupMeans.count - 1) / 2])
            spreads.append(groupVariances[Int((0.25 * Double(groupVariances.count)).rounded(.up)) - 1] / quartileCorrection)
        }
        let typicalVariance = median(spreads)
        // The levels must span several noise widths for a slope to mean anything.
        let span = (levels.max() ?? 0) - (levels.min() ?? 0)
        // One level (a flat field, an empty frame) gives a variance but no slope: the offset is
        // unknown, and assuming one would invent an SNR.
        if groupCount < 3 || span < 4 * typicalVariance.squareRoot() {
            return .unavailable("not estimable: the image has one intensity level (about \(format(median(levels)))), so gain and offset cannot be told apart; give the instrument's (fairway qc settings --instrument NAME --gain G --offset O)")
        }
        var slopes: [Double] = []
        slopes.reserveCapacity(groupCount * (groupCount - 1) / 2)
        for i in 0 ..< groupCount {
            for j in i + 1 ..< groupCount where abs(levels[j] - levels[i]) >= span / 8 && levels[j] != levels[i] {
                slopes.append((spreads[j] - spreads[i]) / (levels[j] - levels[i]))
            }
        }
        let gain = median(slopes)
        guard gain > 0, gain.isFinite else {
            return .unavailable("not estimable: variance does not grow with intensity (not shot-noise limited, or processed data)")
        }
        let intercept = median(zip(levels, spreads).map { $1 - gain * $0 })
        let offset = -intercept / gain
        return .estimated(Estimate(gain: gain, offset: offset,
                                   method: "photon transfer over \(groupCount) intensity levels"))
    }

    /// The median (mean of the two middle values for an even count).
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted(), middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    static func format(_ value: Double) -> String { String(format: "%.4g", value) }
}
