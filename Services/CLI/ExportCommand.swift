import ArgumentParser
import FairwayContracts
import FairwayExports
import Foundation

/// `fairway export`: a study in the formats other tools import: OMERO (in place), RO-Crate, ISA-JSON.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a study for OMERO (in-place bulk import), as an RO-Crate or as ISA-JSON.",
        discussion: "Exports read the catalog only; running one again writes the same files. Exit codes: 0 written, 1 failure, 64 usage.",
        subcommands: [OMERO.self, ROCrate.self, ISA.self]
    )

    struct StudyOptions: ParsableArguments {
        @Option(help: "Investigation name.") var investigation: String
        @Option(help: "Study name (within the investigation).") var study: String

        func validate() throws {
            for (name, value) in [("investigation", investigation), ("study", study)] where !CatalogName.isValid(value) {
                throw ValidationError("--\(name) must be \(CatalogName.rule)")
            }
        }
    }

    struct OMERO: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "omero",
            abstract: "Write bulk.yml, files.tsv and annotations.csv for `omero import --bulk` (in place, ln_s) and `omero metadata populate`.",
            discussion: """
                Investigation → OMERO group, study → Project, assay → Dataset. Paths are the replicas' physical \
                paths (vault preferred, then landing), rewritten by --path-map to where the OMERO server mounts \
                them. Files with no good replica, or outside every mapped folder, are listed and left out \
                (exit 1 if any was). Exit codes: 0 every image written, 1 some left out or failure, 64 usage.
                """
        )
        @OptionGroup var target: StudyOptions
        @Option(help: "Only this assay (an OMERO Dataset).") var assay: String?
        @Option(help: "Output folder.") var out: String
        @Option(name: .customLong("path-map"), help: "FROM=TO: a folder here and the same folder on the OMERO server (repeatable).")
        var pathMap: [String] = []
        @Option(help: "Which file each image is imported from: original or converted (the OME-TIFF).") var use = "original"
        @Option(name: .customLong("checksum-algorithm"), help: "OMERO's checksum: \(OMEROBulkImport.Options.checksumAlgorithms.joined(separator: ", ")).")
        var checksumAlgorithm = "SHA1-160"
        @Flag(help: "Print a JSON summary.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            if let assay, !CatalogName.isValid(assay) { throw ValidationError("--assay must be \(CatalogName.rule)") }
            guard OMEROBulkImport.Source(rawValue: use) != nil else { throw ValidationError("--use must be original or converted") }
            guard OMEROBulkImport.Options.checksumAlgorithms.contains(checksumAlgorithm) else {
                throw ValidationError("--checksum-algorithm must be one of \(OMEROBulkImport.Options.checksumAlgorithms.joined(separator: ", "))")
            }
            for mapping in pathMap { do { _ = try OMEROBulkImport.PathMapping(parsing: mapping) } catch { throw ValidationError(error.description) } }
        }

        func run() async throws {
            var options = OMEROBulkImport.Options()
            options.source = OMEROBulkImport.Source(rawValue: use)!
            options.pathMap = try pathMap.map { try OMEROBulkImport.PathMapping(parsing: $0) }
            options.checksumAlgorithm = checksumAlgorithm
            let (investigation, study, assay) = (target.investigation, target.study, assay)
            let snapshot = try await read(catalog, investigation, study, assay)
            let output = OMEROBulkImport.build(snapshot, options: options)
            try write(output.files, out)
            for skip in output.skipped { note("left out \(skip.path): \(skip.reason)") }
            if !output.notImages.isEmpty { note("not images, not exported: \(output.notImages.joined(separator: ", "))") }
            if json {
                printJSON(["out": out, "images": output.images, "group": output.group, "files": output.files.map(\.name),
                           "skipped": output.skipped.map { ["path": $0.path, "reason": $0.reason] }, "notImages": output.notImages])
            } else {
                print("wrote \(output.files.map(\.name).joined(separator: ", ")) in \(out): \(output.images) images for group \(output.group)")
                print("import with: cd \(out) && omero import -g \(output.group) --bulk bulk.yml")
            }
            if !output.skipped.isEmpty { throw CommandFailure("\(output.skipped.count) files left out (listed above)") }
        }
    }

    struct ROCrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rocrate",
            abstract: "Write ro-crate-metadata.json (RO-Crate 1.1): the study as a Dataset with its files, authors, licence, DOI and ISA structure."
        )
        @OptionGroup var target: StudyOptions
        @Option(help: "Output folder (the crate's root).") var out: String
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let snapshot = try await read(catalog, target.investigation, target.study, nil)
            let crate = try StudyCrate.build(snapshot)
            try write([(StudyCrate.fileName, crate.json)], out)
            print("wrote \(StudyCrate.fileName) in \(out): \(crate.files) files (with the converted OME-TIFFs) in \(snapshot.assays.count) assays")
        }
    }

    struct ISA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "isa",
            abstract: "Write the study as ISA-JSON (i_<investigation>.json): investigation, study, assays, data files and annotations."
        )
        @OptionGroup var target: StudyOptions
        @Option(help: "Output folder.") var out: String
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let snapshot = try await read(catalog, target.investigation, target.study, nil)
            let document = try ISAJSON.export(snapshot)
            let name = "i_\(snapshot.investigation.name).json"
            try write([(name, document)], out)
            let images = snapshot.assays.flatMap(\.files)
            print("wrote \(name) in \(out): study \(snapshot.study.name), \(snapshot.assays.count) assays, "
                  + "\(images.count) files and \(images.filter { $0.converted != nil }.count) converted OME-TIFFs")
        }
    }
}

private func read(_ catalog: CatalogOptions, _ investigation: String, _ study: String, _ assay: String?) async throws -> StudySnapshot {
    do {
        return try await catalog.withCatalog { client, logger in
            try await StudySnapshot.read(client: client, logger: logger, investigation: investigation, study: study, assay: assay)
        }
    } catch let error as ExportError { throw CommandFailure(error.description) }
}

private func write(_ files: [(name: String, content: String)], _ folder: String) throws {
    do { try ExportFolder.write(files, to: folder) } catch { throw CommandFailure(error.description) }
}

func printJSON(_ value: Any) {
    let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    print(String(decoding: data, as: UTF8.self))
}
