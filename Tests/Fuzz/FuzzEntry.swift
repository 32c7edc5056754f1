import Foundation

// Built two ways. With libFuzzer (Tests/fuzz, which compiles with -sanitize=fuzzer,address and
// -D FUZZING): libFuzzer's own main drives `LLVMFuzzerTestOneInput`, the harness named by
// FAIRWAY_FUZZ_TARGET. In the normal build: `fairway-fuzz TARGET FILE|FOLDER...` replays inputs
// (a crash libFuzzer saved, a corpus) through the same harness.

#if FUZZING
nonisolated(unsafe) var selected: Harness?

/// libFuzzer's driver, called from the entry point SwiftPM gives this executable (it links the
/// module's own `main`, so libFuzzer's `main` is not used).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("FairwayFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector) { data, size in fuzzOneInput(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if selected == nil {
        let name = ProcessInfo.processInfo.environment["FAIRWAY_FUZZ_TARGET"] ?? ""
        guard let harness = Harness.named(name) else {
            fatalError("set FAIRWAY_FUZZ_TARGET to one of \(Harness.all.map(\.name).joined(separator: ", "))")
        }
        selected = harness
    }
    selected!.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
#else
@main
enum FuzzReplay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let harness = Harness.named(name), arguments.count > 1 else {
            FileHandle.standardError.write(Data("usage: fairway-fuzz \(Harness.all.map(\.name).joined(separator: "|")) FILE|FOLDER...\n".utf8))
            exit(64)
        }
        var count = 0
        for argument in arguments.dropFirst() {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isFolder) else {
                FileHandle.standardError.write(Data("\(argument): no such file\n".utf8))
                exit(66)
            }
            let files = isFolder.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []).sorted().map { argument + "/" + $0 }
                : [argument]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                harness.run(Array(data))
                count += 1
            }
        }
        print("\(harness.name): \(count) input(s) replayed, no promise broken")
    }
}
#endif
