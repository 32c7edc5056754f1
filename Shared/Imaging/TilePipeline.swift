import Foundation

/// Worker threads that take tiles from one queue, compress them (each with its own codec context
/// and buffers, so nothing is allocated per tile) and append them to the file in the order they
/// finish — tile order in a TIFF is free, the offset tables say where each one is. One lock guards
/// the queue, the band counters, the offset tables and the file.
final class TilePipeline: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [TileJob] = []
    private var head = 0
    private var closing = false
    private var failure: TIFFError?
    private let workers = DispatchGroup()
    private let file: BigTIFFFile
    private let tileSize: Int, pixelBytes: Int

    init(options: ConversionOptions, pixelType: PixelType, file: BigTIFFFile) {
        self.file = file
        tileSize = options.tileSize
        pixelBytes = pixelType.bytes
        let tileBytes = tileSize * tileSize * pixelBytes
        for _ in 0 ..< max(1, options.workers) {
            let thread = Thread { [self] in
                let encoder = TileEncoder(compression: options.compression, pixelType: pixelType)
                let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: tileBytes, alignment: 64)
                let output = UnsafeMutableRawBufferPointer.allocate(byteCount: encoder.maxEncodedBytes(tileBytes), alignment: 64)
                defer { scratch.deallocate(); output.deallocate() }
                work(encoder: encoder, scratch: scratch, output: output)
                workers.leave()
            }
            workers.enter()
            thread.start()
        }
    }

    /// Hands a band's tiles to the workers and moves the level to its next band buffer, waiting
    /// until that buffer's earlier tiles are written.
    func seal(_ level: Level, submitting jobs: [TileJob]) throws(TIFFError) {
        condition.lock()
        defer { condition.unlock() }
        level.pending[level.current] += jobs.count
        queue.append(contentsOf: jobs)
        condition.broadcast()
        let next = (level.current + 1) % Level.ring
        while level.pending[next] > 0, failure == nil { condition.wait() }
        if let failure { throw failure }
        level.bandRows = 0
        level.advance(to: next)
    }

    func waitUntilWritten(_ levels: [Level]) throws(TIFFError) {
        condition.lock()
        defer { condition.unlock() }
        while levels.contains(where: { $0.pending.contains { $0 > 0 } }), failure == nil { condition.wait() }
        if let failure { throw failure }
    }

    func withFile(_ body: (BigTIFFFile) throws(TIFFError) -> Void) throws(TIFFError) {
        condition.lock()
        defer { condition.unlock() }
        try body(file)
    }

    /// Lets the workers finish the queue, then stops them; rethrows the first write failure.
    func finish() throws(TIFFError) {
        stop()
        if let failure { throw failure }
    }

    /// Stops the workers after the queue is done (also on the way out of an error).
    func stop() {
        condition.lock()
        closing = true
        condition.broadcast()
        condition.unlock()
        workers.wait()
    }

    private func work(encoder: TileEncoder, scratch: UnsafeMutableRawBufferPointer, output: UnsafeMutableRawBufferPointer) {
        while true {
            condition.lock()
            while head == queue.count, !closing { condition.wait() }
            if head == queue.count || failure != nil {
                condition.unlock()
                return
            }
            let job = queue[head]
            head += 1
            // Drop taken jobs soon: each holds its level, and levels hold band buffers.
            if head >= 64 {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()

            let level = job.level, band = level.buffer(job.buffer)
            let x = job.column * tileSize, columns = min(tileSize, level.width - x)
            // Edge tiles are padded with zeros to the full tile size, as TIFF requires.
            if columns < tileSize || job.rows < tileSize { scratch.initializeMemory(as: UInt8.self, repeating: 0) }
            for row in 0 ..< job.rows {
                (scratch.baseAddress! + row * tileSize * pixelBytes)
                    .copyMemory(from: band.baseAddress! + row * level.rowBytes + x * pixelBytes, byteCount: columns * pixelBytes)
            }
            let written = encoder.encode(scratch, width: tileSize, into: output)

            condition.lock()
            do throws(TIFFError) {
                level.offsets[job.tileIndex] = try file.append(UnsafeRawBufferPointer(rebasing: output[0 ..< written]))
                level.counts[job.tileIndex] = UInt64(written)
            } catch {
                if failure == nil { failure = error }
            }
            level.pending[job.buffer] -= 1
            condition.broadcast()
            condition.unlock()
        }
    }
}
