import ArgumentParser
import FairwayQuality
import Foundation

/// `fairway-qc score FILE`: the quality metrics of one file, no bus and no database — what
/// operators check a microscope's settings with and what tests and benchmarks drive.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Print the per-channel quality metrics and verdict of one TIFF, ImageJ or OME-TIFF file.",
        discussion: """
        Reads the pixels band by band (memory follows the image width, not its size). Saturation is \
        counted at 2^SignificantBits − 1: --significant-bits, else the file's OME SignificantBits, \
        else the container's. Without --gain and --offset (ADU per photon, ADU), both are estimated \
        from the image by photon transfer and the SNR says so. Exit status: 0 printed (whatever the \
        verdict); 1 the file cannot be read (one line on stderr); 64 bad arguments.
        """
    )

    @Argument(help: "The file to score.") var file: String
    @Flag(help: "Print one JSON object (metrics that do not apply are null).") var json = false
    @Option(help: "Detector bit depth, e.g. 12 for a 12-bit camera stored in 16 bits.") var significantBits: Int?
    @Option(help: "Camera gain in ADU per photon (with --offset).") var gain: Double?
    @Option(help: "Camera offset in ADU (with --gain).") var offset: Double?
    @Flag(help: "The image is a flat field: score the field uniformity.") var flatField = false
    @Option(help: "A YAML, CSV or TSV file of threshold overrides (name: value).") var thresholds: String?
    /// For benchmarks: the time scoring took, without the process's start, on stderr.
    @Flag(help: .hidden) var timing = false

    func validate() throws {
        if let significantBits, !(1 ... 32).contains(significantBits) { throw ValidationError("--significant-bits must be between 1 and 32") }
        if (gain == nil) != (offset == nil) { throw ValidationError("give --gain and --offset together, or neither (both are then estimated)") }
        if let gain, !(gain > 0 && gain.isFinite) { throw ValidationError("--gain must be a positive number of ADU per photon") }
    }

    func run() throws {
        var options = QualityOptions()
        options.significantBits = significantBits
        options.gain = gain
        options.offset = offset
        options.flatField = flatField
        if let thresholds {
            do {
                options.thresholds = try QualitySettingsFile.thresholds(path: thresholds)
            } catch {
                FileHandle.standardError.write(Data("fairway-qc: \(thresholds): \(error)\n".utf8))
                throw ExitCode(64)
            }
        }
        let report: QualityReport
        let started = ContinuousClock.now
        do {
            report = try ImageQuality.score(path: file, options: options)
            if timing {
                let seconds = (ContinuousClock.now - started) / .seconds(1)
                let bytes = report.channels.reduce(Int64(0)) { $0 + $1.pixels } * Int64(report.pixelBytes)
                FileHandle.standardError.write(Data("scored \(bytes) bytes of pixels in \(seconds) s\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("fairway-qc: \(error.description.replacingOccurrences(of: "\n", with: " "))\n".utf8))
            throw ExitCode(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Self.summary(report, file: file))
        }
    }

    static func summary(_ r: QualityReport, file: String) -> String {
        func n(_ value: Double?) -> String { value.map { String(format: "%.4g", $0) } ?? "-" }
        func pct(_ value: Double?) -> String { value.map { String(format: "%.3f%%", $0 * 100) } ?? "-" }
        var lines = ["\(file): \(r.verdict.rawValue.uppercased())  (\(r.sizeX)x\(r.sizeY), Z=\(r.sizeZ) C=\(r.sizeC) T=\(r.sizeT), \(r.pixelType), \(r.significantBits.map { "\($0) bits" } ?? "no bit depth") from \(r.significantBitsSource))"]
        for c in r.channels {
            lines.append("  channel \(c.index)\(c.name.map { " \($0)" } ?? ""): saturated \(pct(c.saturationFraction)), zero \(pct(c.zeroFraction)), SNR \(n(c.snr)) [\(c.snrMethod)\(c.gain.map { ", gain \(n($0)), offset \(n(c.offset))" } ?? "")]")
            lines.append("    background \(n(c.background)), bright \(n(c.brightLevel)), noise σ \(n(c.noiseSigma)), signal/background \(n(c.signalToBackground)), dynamic range \(pct(c.dynamicRangeUsage))")
            lines.append("    focus \(n(c.focus)) (\(n(c.focusToNoise))× noise)\(c.bestFocusPlane.map { ", best plane z=\($0)" } ?? "")\(c.uniformity.map { ", uniformity \(n($0)) %" } ?? "")")
        }
        if let best = r.bestFocusPlane { lines.append("  best-focus plane: z=\(best)") }
        lines += r.reasons.map { "  - \($0)" }
        return lines.joined(separator: "\n")
    }
}
