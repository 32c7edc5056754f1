import FairwayStorage
import Foundation
import Testing

/// Paths from outside: refused before they touch the filesystem, or confined to the zone after.
@Suite struct PathConfinementTests {
    let zone: URL
    let root: ZoneRoot

    init() throws {
        zone = FileManager.default.temporaryDirectory.appendingPathComponent("zone-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: zone.appendingPathComponent("run/plate"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: zone.appendingPathComponent("run/plate/img.tif"))
        root = try ZoneRoot(canonicalizing: zone.path)
    }

    @Test(arguments: [
        ("", PathError.empty), ("/", .absolute("/")), ("/etc/passwd", .absolute("/etc/passwd")),
        ("..", .parentReference("..")), ("../x", .parentReference("../x")), ("a/../../x", .parentReference("a/../../x")),
        ("a/..", .parentReference("a/..")), ("./", .empty), ("a\u{0}b", .nulByte),
    ])
    func hostileRelativePathsAreRefusedByName(_ text: String, _ expected: PathError) {
        #expect(throws: expected) { try RelativePath(text) }
    }

    @Test func overlongPathsAreRefused() {
        #expect(throws: PathError.tooLong(bytes: 5000, limit: RelativePath.maxBytes)) { try RelativePath(String(repeating: "a", count: 5000)) }
        #expect(throws: (any Error).self) { try RelativePath(String(repeating: "b", count: 300)) }
    }

    @Test func redundantSeparatorsAndDotsAreNormalised() throws {
        #expect(try RelativePath("run//plate/./img.tif").description == "run/plate/img.tif")
        #expect(try RelativePath("run/plate/").components == ["run", "plate"])
        #expect(try RelativePath("..hidden/x").components == ["..hidden", "x"], "'..' only as a whole component is a parent reference")
    }

    @Test func filesAndFoldersInsideResolve() throws {
        let file = try root.resolve(try RelativePath("run/plate/img.tif"))
        #expect(file.status.kind == .file)
        #expect(file.physical.display == root.path + "/run/plate/img.tif")
        #expect(try root.resolve(try RelativePath("run")).status.kind == .folder)
    }

    @Test func missingPathsAreNotFound() {
        #expect(throws: PathError.notFound("run/nope.tif")) { try root.resolve(try RelativePath("run/nope.tif")) }
        #expect(throws: PathError.notFound("run/plate/img.tif/x")) { try root.resolve(try RelativePath("run/plate/img.tif/x")) }
    }

    @Test func symbolicLinksMayNotLeadOutOfTheZone() throws {
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: zone.path + "/out-file", withDestinationPath: "/etc/hostname")
        try fm.createSymbolicLink(atPath: zone.path + "/out-dir", withDestinationPath: "/etc")
        try fm.createSymbolicLink(atPath: zone.path + "/up", withDestinationPath: "..")
        try fm.createSymbolicLink(atPath: zone.path + "/self", withDestinationPath: ".")
        try fm.createSymbolicLink(atPath: zone.path + "/inside", withDestinationPath: "run/plate/img.tif")
        try fm.createSymbolicLink(atPath: zone.path + "/loop", withDestinationPath: "loop")
        #expect(throws: PathError.escapesZone("out-file")) { try root.resolve(try RelativePath("out-file")) }
        #expect(throws: PathError.escapesZone("out-dir/passwd")) { try root.resolve(try RelativePath("out-dir/passwd")) }
        #expect(throws: PathError.escapesZone("up")) { try root.resolve(try RelativePath("up")) }
        #expect(throws: PathError.escapesZone("self"), "the root itself is not a path inside it") { try root.resolve(try RelativePath("self")) }
        #expect(throws: (any Error).self) { try root.resolve(try RelativePath("loop")) }
        // A link that stays inside is followed to its target.
        #expect(try root.resolve(try RelativePath("inside")).physical.display == root.path + "/run/plate/img.tif")
    }

    @Test func theRootMustBeAnExistingFolder() {
        #expect(throws: (any Error).self) { try ZoneRoot(canonicalizing: "relative/path") }
        #expect(throws: (any Error).self) { try ZoneRoot(canonicalizing: "/no/such/folder/\(UUID())") }
        #expect(throws: (any Error).self) { try ZoneRoot(canonicalizing: zone.path + "/run/plate/img.tif") }
    }

    @Test func aSiblingWithTheSamePrefixIsNotInside() {
        #expect(!root.contains(RawPath(root.path + "-other/file")))
        #expect(!root.contains(RawPath(root.path)))
        #expect(root.contains(RawPath(root.path + "/a")))
    }
}

@Suite struct RawPathTests {
    @Test func invalidUTF8IsShownEscapedAndKeptExactly() {
        let path = RawPath(Array("caf".utf8) + [0xE9] + Array(".tif".utf8))
        #expect(!path.isUTF8)
        #expect(path.display == "caf\\xE9.tif")
        #expect(RawPath([0xC3]).display == "\\xC3", "a truncated sequence")
        #expect(RawPath(Array("é/ü".utf8)).display == "é/ü")
        #expect(RawPath([0xED, 0xA0, 0x80]).display == "\\xED\\xA0\\x80", "an encoded surrogate is not UTF-8")
    }
}
