import Foundation

/// Turns one channel's scan into its metrics. Formulas and references, as in the README:
///
/// - saturation fraction: pixels ≥ 2^SignificantBits − 1 over all pixels; zero fraction: pixels at 0.
/// - background: the mode of the 16 × 16 block means at or below their median (a robust low
///   mode: the most common dark level, with 1/16 of a pixel's noise).
/// - bright level: the 99th percentile (nearest rank) of the block means.
/// - noise σ: 1.4826 · MAD / √2 of horizontal neighbour differences on every 4th row (the
///   difference of two pixels has √2 their noise and cancels smooth signal; 1.4826 turns a MAD
///   into σ for Gaussian noise).
/// - SNR (Scientific Volume Imaging, "Signal-to-noise ratio" in the Huygens documentation):
///   √N with N = (bright level − offset) / gain photons, gain and offset from the instrument or
///   estimated by photon transfer (`PhotonTransfer`).
/// - signal to background: bright level / background.
/// - dynamic-range usage: (P99.9 − P0.1) / detector range.
/// - focus: the variance of the 4-neighbour Laplacian (Pech-Pacheco et al., ICPR 2000) of each
///   plane binned 4 × 4 (means); focus to noise divides it by 20σ²/16, what white noise alone gives.
/// - uniformity (flat fields): 100 · min / max of the block means, the block mean being the
///   smoothing (MetroloJ_QC's field-illumination uniformity).
struct ChannelMetrics {
    let scan: ChannelScan
    let sizeZ: Int, sizeT: Int
    let options: QualityOptions
    /// Width of the detector's range in value units (nil for floating point without an override).
    let range: Double?

    func quality(index: Int, name: String?) -> ChannelQuality {
        let scale = scan.scale
        // NaN and infinities (floating-point data) are in no histogram and no fraction.
        let total = Double(scan.pixels - scan.nonFinite)
        let value = { (bin: Int) in scale.value(Double(bin)) }

        let saturated: Double?, zeros: Double
        if scale.exact {
            let histogram = scan.histogram
            zeros = total > 0 && scale.value(Double(scale.bin(0))) == 0 ? Double(histogram[scale.bin(0)]) / total : 0
            saturated = scan.saturationLevel.map { level in
                let first = Int(level - scale.origin)
                return total > 0 && first < histogram.count ? Double(histogram[first...].reduce(0, +)) / total : 0
            }
        } else {
            zeros = total > 0 ? Double(scan.zeroCount) / total : 0
            saturated = scan.saturationLevel.map { _ in total > 0 ? Double(scan.saturatedCount) / total : 0 }
        }

        // Block statistics, or the pixels themselves when the image has no full 16 × 16 block.
        let levels = scan.blockMeans.contains { $0 > 0 } ? scan.blockMeans : scan.histogram
        let background = HistogramStatistics.percentile(levels, perMille: 500).flatMap { HistogramStatistics.mode(levels, upTo: $0) }.map(value)
        let bright = HistogramStatistics.percentile(levels, perMille: 990).map(value)
        let noise = HistogramStatistics.medianAbsoluteDeviation(scan.differences).map { 1.4826 * $0 / 2.0.squareRoot() * scale.width }

        var snr: Double?, method: String, gain: Double?, offset: Double?
        if let given = options.gain, let givenOffset = options.offset {
            gain = given; offset = givenOffset
            method = "\(options.calibrationSource) gain and offset"
        } else {
            switch PhotonTransfer.estimate(means: scan.blocks.means, variances: scan.blocks.variances) {
            case .estimated(let estimate):
                // Shot noise puts the zero-photon level near the darkest data: a line that puts
                // it more than three data spans below them, or above the bright level, is not
                // photon transfer (constant noise, processed data).
                let low = HistogramStatistics.percentile(scan.histogram, perMille: 1).map(value) ?? 0
                if let bright, estimate.offset < low - 3 * (bright - low) || estimate.offset >= bright {
                    method = "not estimable: the noise does not follow the intensity as shot noise does (the fit puts the offset at \(PhotonTransfer.format(estimate.offset)) ADU)"
                } else {
                    gain = estimate.gain; offset = estimate.offset; method = estimate.method
                }
            case .unavailable(let why):
                method = why
            }
        }
        if let gain, let offset, let bright {
            snr = max(0, (bright - offset) / gain).squareRoot()
        }

        var usage: Double?
        if let range, range > 0, let low = HistogramStatistics.percentile(scan.histogram, perMille: 1),
           let high = HistogramStatistics.percentile(scan.histogram, perMille: 999) {
            usage = (value(high) - value(low)) / range
        }

        // Focus per Z plane: planes were scanned t-major, z-minor.
        var byPlane = [Double?](repeating: nil, count: sizeZ)
        for z in 0 ..< sizeZ {
            let values = (0 ..< sizeT).compactMap { t in scan.focus[t * sizeZ + z] }
            if !values.isEmpty { byPlane[z] = values.reduce(0, +) / Double(values.count) }
        }
        var best: Int?
        for z in 0 ..< sizeZ { if let v = byPlane[z], best.map({ v > byPlane[$0]! }) ?? true { best = z } }
        let focus = best.flatMap { byPlane[$0] }
        let binnedNoise = 20.0 / Double(focusBinning * focusBinning)
        let focusToNoise: Double? = focus.flatMap { f in noise.flatMap { $0 > 0 ? f / (binnedNoise * $0 * $0) : nil } }
        let uniformity = options.flatField ? scan.uniformity.compactMap { $0 }.min() : nil

        return ChannelQuality(
            index: index, name: name, pixels: scan.pixels, saturationLevel: scan.saturationLevel, saturationFraction: saturated,
            zeroFraction: zeros, snr: snr, snrMethod: method, gain: gain, offset: offset, brightLevel: bright, background: background,
            noiseSigma: noise, signalToBackground: background.flatMap { b in bright.flatMap { b > 0 ? $0 / b : nil } },
            dynamicRangeUsage: usage, focus: focus, focusToNoise: focusToNoise, bestFocusPlane: sizeZ > 1 ? best : nil,
            focusByPlane: byPlane, uniformity: uniformity
        )
    }
}
