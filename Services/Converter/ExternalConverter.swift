import FairwayServiceKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An operator's command for formats libtiff cannot read (e.g. Bio-Formats' `bfconvert`): run as a
/// separate process without a shell, `{input}` and `{output}` replaced as whole arguments, killed
/// after a timeout. What it writes must be an OME-TIFF; anything else is a failure of that object.
struct ExternalConverter: Sendable {
    var arguments: [String]
    var timeout: Duration = .seconds(3600)
    var formats: Set<String> = ["czi", "lif", "nd2", "vsi", "ims", "oib", "oir", "dv"]

    init(template: String) throws(FairwayConfiguration.Invalid) {
        arguments = template.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let program = arguments.first, arguments.contains("{input}"), arguments.contains("{output}") else {
            throw .init(description: "FAIRWAY_EXTERNAL_CONVERTER must name a program and contain {input} and {output} as arguments")
        }
        _ = program
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs the command on `input`, writing `output`; throws with the exit status and the last line
    /// it printed when it fails or runs out of time.
    func run(input: String, output: String) async throws(Failure) {
        let argv = arguments.map { $0 == "{input}" ? input : $0 == "{output}" ? output : $0 }
        let process = Process()
        let program = argv[0]
        process.executableURL = URL(fileURLWithPath: program.contains("/") ? program : Self.which(program) ?? program)
        process.arguments = Array(argv.dropFirst())
        // Its output goes to a file, not a pipe: nothing here blocks a thread reading it.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("fairway-external-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil), let logHandle = FileHandle(forWritingAtPath: log.path) else {
            throw Failure(description: "cannot create a log file for the external converter in \(log.deletingLastPathComponent().path)")
        }
        defer {
            try? logHandle.close()
            try? FileManager.default.removeItem(at: log)
        }
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw Failure(description: "external converter \(program) cannot start: \(error.localizedDescription)") }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw Failure(description: "external converter \(program) ran longer than \(timeout) and was killed")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        let text = String(decoding: ((try? Data(contentsOf: log)) ?? Data()).suffix(4096), as: UTF8.self)
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let last = text.split(separator: "\n").last.map(String.init) ?? ""
            let how = process.terminationReason == .exit ? "exited with \(process.terminationStatus)" : "was killed by signal \(process.terminationStatus)"
            throw Failure(description: "external converter \(program) \(how)" + (last.isEmpty ? "" : ": \(last.prefix(300))"))
        }
    }

    static func which(_ name: String) -> String? {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
