import Crypto
import FairwayCatalog
import FairwayContracts
import FairwayImaging
import FairwayServiceKit
import Foundation
import Logging
import Metrics
import PostgresNIO
#if canImport(Glibc)
import Glibc
#endif

/// What the catalog knows about the object an `object.registered` names.
struct SourceObject: Decodable, Sendable {
    let id: UUID
    let version: Int
    let state: String
    let checksum: String?
    let size: Int64
    let format: String
    let logicalPath: String
    let mtimeNs: Int64?
}

/// The resource derived images are written to.
struct DerivedResource: Sendable {
    let id: UUID
    let name: String
    let root: String
}

/// A derived OME-TIFF written and synced at its final path, not yet in the catalog.
struct DerivedFile: Sendable {
    let resource: DerivedResource
    let physicalPath: String
    let logicalPath: String
    let size: Int64
    let checksum: String
    let levels: Int
    let provenance: [Provenance.Entry]
}

/// The outcome of the slow part, recorded in the catalog by `Conversions.record`.
enum ConversionOutcome: Sendable {
    case converted(DerivedFile)
    /// Already OME-TIFF: the source is the image of record.
    case inPlace
    case unsupported(String)
    case failed(String)
    /// Nothing to do (a newer version exists, or this version was already handled).
    case skipped(String)
}

/// object.registered → an OME-TIFF of record: converted into the derived resource, kept in place,
/// or the object marked unsupported or failed with its reason. Conversions run outside any
/// transaction and are repeatable (the output path is fixed by the object and its version).
struct Conversions: Sendable {
    let client: PostgresClient
    let settings: ConverterSettings
    /// At most `settings.parallel` conversions at once: each already uses every core.
    let slots: BlockingSlots
    let logger: Logger

    init(client: PostgresClient, settings: ConverterSettings, logger: Logger) {
        self.client = client
        self.settings = settings
        slots = BlockingSlots(limit: settings.parallel)
        self.logger = logger
    }

    static let nativeFormats: Set<String> = ["tiff", "bigtiff", "imagej-tiff", "lsm"]

    func prepare(_ envelope: Envelope<ObjectRegistered>) async throws -> ConversionOutcome {
        let message = envelope.payload
        guard let source = try await load(message.objectID) else {
            throw PermanentFailure("object \(message.objectID) is not in the catalog")
        }
        if let version = message.version, version != source.version {
            return .skipped("version \(version) was superseded by version \(source.version)")
        }
        guard source.state == "registered" else { return .skipped("object is already \(source.state)") }
        let native = Self.nativeFormats.contains(source.format)
        let external = settings.external.flatMap { $0.formats.contains(source.format) ? $0 : nil }
        if source.format == "ome-tiff", settings.options.omePyramidAbove == nil { return .inPlace }
        guard native || external != nil || source.format == "ome-tiff" else {
            return .unsupported("\(source.format) files cannot be read natively (libtiff reads TIFF, BigTIFF, ImageJ and OME-TIFF)"
                + (settings.external == nil ? "; an operator can set FAIRWAY_EXTERNAL_CONVERTER (e.g. bfconvert) for it" : "; not in FAIRWAY_EXTERNAL_CONVERTER_FORMATS"))
        }
        let opened: OpenedSource
        switch OpenedSource.open(message, expecting: source) {
        case .success(let file): opened = file
        case .failure(let reason): return .failed(reason.description)
        }
        defer { opened.close() }
        let resource = try await derivedResource()
        let logicalPath = source.logicalPath + ".ome.tif"
        // The derived tree mirrors the logical one (zone, then the acquisition's folders): unique by
        // construction, since logical paths are, and a later version gets a file of its own.
        let relative = source.logicalPath + (source.version > 1 ? ".v\(source.version)" : "") + ".ome.tif"
        let physical = URL(fileURLWithPath: resource.root).appendingPathComponent(relative).path
        guard !relative.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
            return .failed("derived path \(relative) would leave the derived resource")
        }
        try Self.makeFolders(URL(fileURLWithPath: physical).deletingLastPathComponent().path, in: resource)
        let provenance = Provenance.entries(sourceObject: source.id.uuidString.lowercased(), sourcePath: message.physicalPath,
                                            sourceChecksum: source.checksum ?? message.checksum, sourceKind: nil, options: settings.options)
        let started = ContinuousClock.now
        let levels: Int
        do {
            if let external {
                levels = try await convertExternally(opened, to: physical, with: external)
            } else {
                let options = settings.options, input = opened.procPath, name = URL(fileURLWithPath: source.logicalPath).lastPathComponent
                levels = try await slots.run {
                    let conversion = try OMETIFFConversion(input: input, fileName: name, options: options)
                    // OME-TIFF is the image of record, unless large and untiled (the pyramid policy).
                    if conversion.source.kind == .ome, !conversion.rewritesOME { return 0 }
                    return try conversion.write(to: physical, imageName: name, provenance: provenance.map { ($0.key, $0.value) }).levels.count
                }
                if levels == 0 { return .inPlace }
            }
        } catch let error as TIFFError where error.isOutputFailure {
            // The derived resource's fault (full, read-only): retried, then kept in the dead-letter queue.
            throw ConversionError(error.description)
        } catch let error as TIFFError {
            return .failed(error.description.replacingOccurrences(of: opened.procPath, with: message.physicalPath))
        } catch let error as ExternalConverter.Failure {
            return .failed(error.description)
        }
        let (size, checksum) = try Self.checksum(of: physical)
        Counter(label: "fairway_converter_bytes_read_total").increment(by: Int(source.size))
        Counter(label: "fairway_converter_bytes_written_total").increment(by: Int(size))
        logger.info("converted", metadata: [
            "object": "\(source.id)", "output": "\(physical)", "bytes": "\(size)", "levels": "\(levels)",
            "seconds": "\(String(format: "%.2f", (ContinuousClock.now - started) / .seconds(1)))",
        ])
        return .converted(DerivedFile(resource: resource, physicalPath: physical, logicalPath: logicalPath, size: size,
                                      checksum: checksum, levels: levels, provenance: provenance))
    }

    /// Runs the operator's command into a temporary OME-TIFF, checks it is one, and renames it.
    private func convertExternally(_ source: OpenedSource, to physical: String, with external: ExternalConverter) async throws -> Int {
        let url = URL(fileURLWithPath: physical)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).external.ome.tif").path
        unlink(temporary)
        defer { unlink(temporary) }
        // The command gets a name with the source's extension (readers choose by it) that leads to
        // the very inode checked: a link to this process's descriptor.
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("fairway-source-\(UUID().uuidString.prefix(12))")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: staging) }
        let name = "source" + (source.extension.map { ".\($0)" } ?? "")
        let link = staging.appendingPathComponent(name).path
        guard symlink("/proc/\(getpid())/fd/\(source.descriptor)", link) == 0 else { throw ConversionError("cannot link the source into \(staging.path)") }
        try await external.run(input: link, output: temporary)
        let reader: TIFFReader
        let image: SourceImage
        do {
            reader = try TIFFReader(path: temporary, limits: settings.options.limits)
            image = try SourceImage.inspect(reader)
        } catch {
            throw ExternalConverter.Failure(description: "external converter output is not a readable TIFF: \(error.description)")
        }
        guard image.kind == .ome else { throw ExternalConverter.Failure(description: "external converter wrote a TIFF without OME-XML") }
        guard rename(temporary, physical) == 0 else { throw ConversionError("cannot rename the external converter's output to \(physical)") }
        return 1 + (image.directories.first?.subIFDCount ?? 0)
    }

    /// Records the outcome, in the inbox transaction of the message.
    func record(_ envelope: Envelope<ObjectRegistered>, _ outcome: ConversionOutcome, _ transaction: CatalogTransaction) async throws {
        let message = envelope.payload
        // The row is locked: a newer version registered meanwhile wins over this result.
        let current = try await transaction.query("SELECT version, state FROM objects WHERE id = \(message.objectID) FOR UPDATE").decode((Int, String).self)
        var row: (version: Int, state: String)?
        for try await (version, state) in current { row = (version, state) }
        guard let row, message.version.map({ $0 == row.version }) ?? true, row.state == "registered" else {
            logger.info("conversion result not recorded: the object moved on", metadata: ["object": "\(message.objectID)"])
            return
        }
        switch outcome {
        case .skipped(let why):
            logger.debug("nothing to convert", metadata: ["object": "\(message.objectID)", "why": "\(why)"])
        case .failed(let reason), .unsupported(let reason):
            let state = if case .unsupported = outcome { "unsupported-format" } else { "failed" }
            try await transaction.query("""
                UPDATE objects SET state = \(state), failure_reason = \(String(reason.prefix(2000))), updated_at = now() WHERE id = \(message.objectID)
                """)
            logger.warning("object not converted", metadata: ["object": "\(message.objectID)", "state": "\(state)", "reason": "\(reason)"])
        case .inPlace:
            try await transaction.query("UPDATE objects SET state = 'converted', failure_reason = NULL, updated_at = now() WHERE id = \(message.objectID)")
            transaction.emit(Envelope(following: envelope, payload: ObjectConverted(
                sourceObjectID: message.objectID, objectID: message.objectID, resource: message.resource, physicalPath: message.physicalPath,
                size: message.size, checksum: message.checksum, format: "ome-tiff", inPlace: true
            )))
        case .converted(let file):
            let derived = try await transaction.query("""
                INSERT INTO objects (assay_id, parent_id, logical_path, owner, size_bytes, checksum, format, state, acquired_at, version)
                SELECT assay_id, id, \(file.logicalPath), owner, \(file.size), \(file.checksum), 'ome-tiff', 'converted', acquired_at, version
                FROM objects WHERE id = \(message.objectID)
                ON CONFLICT (parent_id) WHERE parent_id IS NOT NULL AND format = 'ome-tiff' DO UPDATE
                    SET size_bytes = EXCLUDED.size_bytes, checksum = EXCLUDED.checksum, version = EXCLUDED.version,
                        state = 'converted', failure_reason = NULL, updated_at = now()
                RETURNING id
                """).decode(UUID.self)
            var derivedID: UUID?
            for try await id in derived { derivedID = id }
            guard let derivedID else { throw ConversionError("derived object of \(message.objectID) was not written") }
            try await transaction.query("""
                INSERT INTO replicas (object_id, resource_id, physical_path, status, size_bytes, checksum, last_verified_at)
                VALUES (\(derivedID), \(file.resource.id), \(file.physicalPath), 'good', \(file.size), \(file.checksum), now())
                ON CONFLICT (object_id, resource_id) DO UPDATE
                    SET physical_path = EXCLUDED.physical_path, status = 'good', size_bytes = EXCLUDED.size_bytes,
                        checksum = EXCLUDED.checksum, last_verified_at = now()
                """)
            try await transaction.query("DELETE FROM annotations WHERE object_id = \(derivedID) AND namespace = \(Provenance.namespace)")
            try await transaction.query("""
                INSERT INTO annotations (object_id, kind, namespace, key, value, created_by)
                SELECT \(derivedID), 'map', \(Provenance.namespace), key, value, 'fairway-converter'
                FROM unnest(\(file.provenance.map(\.key))::text[], \(file.provenance.map(\.value))::text[]) AS p(key, value)
                ON CONFLICT DO NOTHING
                """)
            try await transaction.query("UPDATE objects SET state = 'converted', failure_reason = NULL, updated_at = now() WHERE id = \(message.objectID)")
            transaction.emit(Envelope(following: envelope, payload: ObjectConverted(
                sourceObjectID: message.objectID, objectID: derivedID, resource: file.resource.name, physicalPath: file.physicalPath,
                size: file.size, checksum: file.checksum, format: "ome-tiff", inPlace: false, levels: file.levels
            )))
        }
    }

    private func load(_ id: UUID) async throws -> SourceObject? {
        let rows = try await client.query("""
            SELECT json_build_object(
                'id', o.id, 'version', o.version, 'state', o.state, 'checksum', o.checksum, 'size', o.size_bytes,
                'format', o.format, 'logicalPath', o.logical_path,
                'mtimeNs', (SELECT r.mtime_ns FROM replicas r JOIN resources res ON res.id = r.resource_id
                            WHERE r.object_id = o.id AND r.status = 'good' ORDER BY (res.role = 'landing') DESC LIMIT 1))::text
            FROM objects o WHERE o.id = \(id)
            """, logger: logger).decode(String.self)
        for try await json in rows { return try JSONDecoder().decode(SourceObject.self, from: Data(json.utf8)) }
        return nil
    }

    /// The derived resource named by FAIRWAY_DERIVED_RESOURCE, or the only one with role derived.
    /// Its absence is an operator's fix, so the message is retried and then kept in the dead-letter queue.
    private func derivedResource() async throws -> DerivedResource {
        let rows = try await client.query("""
            SELECT id, name, root_path FROM resources WHERE role = 'derived' AND (\(settings.derivedResource)::text IS NULL OR name = \(settings.derivedResource))
            ORDER BY name
            """, logger: logger).decode((UUID, String, String).self)
        var found: [DerivedResource] = []
        for try await (id, name, root) in rows { found.append(DerivedResource(id: id, name: name, root: root)) }
        guard found.count == 1 else {
            throw ConversionError(found.isEmpty
                ? "no derived resource\(settings.derivedResource.map { " named \($0)" } ?? ""): add one with `fairway zone add derived --path DIR --role derived`"
                : "several derived resources (\(found.map(\.name).joined(separator: ", "))): set FAIRWAY_DERIVED_RESOURCE")
        }
        return found[0]
    }

    /// `mkdir -p` with the system's reason when it fails (a full disk, a file in the way).
    static func makeFolders(_ path: String, in resource: DerivedResource) throws(ConversionError) {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0, errno != EEXIST {
                throw ConversionError("cannot create the folder \(current) in resource \(resource.name): \(String(cString: strerror(errno)))")
            }
        }
        var status = stat()
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
            throw ConversionError("cannot create the folder \(path) in resource \(resource.name): something else is in the way")
        }
    }

    static func checksum(of path: String) throws -> (Int64, String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ConversionError("cannot read back \(path)") }
        defer { try? handle.close() }
        var hash = SHA256(), size: Int64 = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hash.update(data: chunk)
            size += Int64(chunk.count)
        }
        return (size, "sha2:" + Data(hash.finalize()).base64EncodedString())
    }
}

/// An infrastructure problem (no derived resource, a full disk): the message is retried.
struct ConversionError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
