import Crypto
import FairwayStorage
import Foundation
import Glibc
import Testing

@Suite struct FileTreeTests {
    @Test func walksRegularFilesWithoutFollowingLinksOrTakingHiddenOnes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tree-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("a/b"), withIntermediateDirectories: true)
        try Data("1".utf8).write(to: folder.appendingPathComponent("a/b/one.tif"))
        try Data("22".utf8).write(to: folder.appendingPathComponent("a/two.tif"))
        try Data("h".utf8).write(to: folder.appendingPathComponent("a/.~lock.tif"))
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/a/etc", withDestinationPath: "/etc")
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/a/pw", withDestinationPath: "/etc/passwd")
        let latin1 = Array(folder.path.utf8) + Array("/a/b/n".utf8) + [0xF6] + Array(".tif".utf8)
        let fd = open(latin1.map { CChar(bitPattern: $0) } + [0], O_WRONLY | O_CREAT, 0o644)
        close(fd)

        let listing = try FileTree.files(inFolder: RawPath(folder.path))
        #expect(listing.files.map(\.relative.display) == ["a/b/n\\xF6.tif", "a/b/one.tif", "a/two.tif"])
        #expect(listing.files.first?.physical.bytes == latin1)
        #expect(listing.files.map(\.status.size) == [0, 1, 2])
        #expect(listing.skipped == 2, "two symbolic links")
        #expect(throws: FileTree.WalkError.tooManyFiles(limit: 2)) { try FileTree.files(inFolder: RawPath(folder.path), maxFiles: 2) }
        #expect(throws: FileTree.WalkError.tooDeep(limit: 0)) { try FileTree.files(inFolder: RawPath(folder.path), maxDepth: 0) }
    }
}

@Suite struct FileInspectionTests {
    let folder: URL
    let root: ZoneRoot

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("inspect-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        root = try ZoneRoot(canonicalizing: folder.path)
    }

    func inspect(_ name: String) throws(FileInspection.Failure) -> FileInspection {
        try FileInspection.inspect(RawPath(root.path + "/" + name), name: RawPath(name), root: root)
    }

    @Test func checksumsMatchKnownVectorsAndTheIRODSForm() throws {
        try Data("abc".utf8).write(to: folder.appendingPathComponent("abc"))
        // FIPS 180-2 test vector: SHA-256("abc") = ba7816bf…15ad.
        #expect(try inspect("abc").checksum == "sha2:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        try Data().write(to: folder.appendingPathComponent("empty"))
        #expect(try inspect("empty").checksum == "sha2:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        #expect(try inspect("empty").size == 0)
    }

    @Test func largeFilesStreamAcrossManyChunks() throws {
        var bytes = [UInt8](repeating: 0, count: FileInspection.chunkBytes * 3 + 12345)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 2654435761 >> 13) }
        try Data(bytes).write(to: folder.appendingPathComponent("big"))
        let expected = "sha2:" + Data(SHA256.hash(data: bytes)).base64EncodedString()
        let result = try inspect("big")
        #expect(result.checksum == expected)
        #expect(result.size == Int64(bytes.count))
    }

    @Test func linksAndMissingFilesAreRefused() throws {
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/link", withDestinationPath: "/etc/hostname")
        #expect(throws: FileInspection.Failure.escapesZone) { try inspect("link") }
        #expect(throws: FileInspection.Failure.vanished) { try inspect("gone") }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("dir"), withIntermediateDirectories: true)
        #expect(throws: FileInspection.Failure.notRegularFile) { try inspect("dir") }
    }
}
