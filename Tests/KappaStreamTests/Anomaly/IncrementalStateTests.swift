import KappaCore
import Testing
@testable import KappaStream

/// The engine's state saved as checkpoints do (each time the header and only the changed devices' chunks, over
/// what earlier checkpoints left) restores to exactly the live engine, at every checkpoint.
@Suite struct IncrementalStateTests {
    /// What a store holds after checkpoints: the latest header and each device's latest chunk.
    struct Store {
        var header: [UInt8] = []
        var chunks: [Int32: [UInt8]] = [:]

        /// Saves what changed, as the writer does; returns the number of chunks written.
        mutating func checkpoint(_ engine: inout AnomalyEngine) -> Int {
            header = engine.stateHeader()
            let changed = engine.changedDeviceChunks()
            for position in 0..<changed.count { chunks[changed.devices[position]] = engine.deviceChunk(position, of: changed) }
            engine.forgetChanges()
            return changed.count
        }

        func restored(_ configuration: AnomalyConfiguration) throws -> AnomalyEngine {
            try AnomalyEngine(configuration: configuration, header: header, deviceChunks: chunks.keys.sorted().map { chunks[$0]! })
        }
    }

    static func configuration() throws -> AnomalyConfiguration {
        var configuration = AnomalyConfiguration()
        try configuration.override("*temperature*", [.init("max", 40), .init("max_rate_per_second", 0.5)])
        return configuration
    }

    static func feed(_ readings: ArraySlice<Reading>, to engine: inout AnomalyEngine, into events: inout [AnomalyEvent]) {
        for reading in readings {
            engine.process(reading, into: &events)
            engine.advanceWatermark(partitionTime: reading.time, into: &events)
        }
    }

    @Test(.timeLimit(.minutes(2))) func everyCheckpointRestoresToTheLiveEngineAndContinuesLikeIt() throws {
        let readings = AnomalyStreamScript(devices: 30, seed: 19, hours: 4).readings()
        let configuration = try Self.configuration()
        var live = AnomalyEngine(configuration: configuration)
        var store = Store()
        var random = SplitMix64(seed: 3)
        var liveEvents: [AnomalyEvent] = []
        var position = 0, checkpoints = 0, partial = 0, chunksWritten = 0
        // Some checkpoints' restored engines go on to the end, to be compared with the live run's events.
        var resumed: [(engine: AnomalyEngine, position: Int, eventCount: Int)] = []
        while position < readings.count {
            // Checkpoints after one reading to a few dozen: most find only some devices changed.
            let end = min(readings.count, position + 1 + Int(random.next() % 40))
            Self.feed(readings[position..<end], to: &live, into: &liveEvents)
            position = end
            let written = store.checkpoint(&live)
            checkpoints += 1
            chunksWritten += written
            if written < live.deviceCount { partial += 1 }
            let restored = try store.restored(configuration)
            let same = restored.snapshot() == live.snapshot()
            try #require(same, "checkpoint \(checkpoints), after reading \(position): the restored engine differs")
            if checkpoints % 400 == 7 { resumed.append((restored, position, liveEvents.count)) }
        }
        // The end of a finite stream judges what is held (an evaluation), and that too is saved.
        var finalEvents: [AnomalyEvent] = []
        live.judgeAllPending(into: &finalEvents)
        _ = store.checkpoint(&live)
        let finished = live
        let same = try store.restored(configuration).snapshot() == finished.snapshot()
        #expect(same, "after judging what was held at the end")
        #expect(partial > checkpoints / 2, "most checkpoints wrote only some devices (\(partial) of \(checkpoints))")
        #expect(chunksWritten < checkpoints * live.deviceCount * 3 / 4, "\(chunksWritten) chunks in \(checkpoints) checkpoints of \(live.deviceCount) devices")
        #expect(liveEvents.contains { if case .episodeOpened(let episode) = $0 { episode.detector == .gap } else { false } }, "silences are part of the run")
        #expect(resumed.count >= 3)
        for (restored, start, eventCount) in resumed {
            var engine = restored, events: [AnomalyEvent] = []
            Self.feed(readings[start...], to: &engine, into: &events)
            engine.judgeAllPending(into: &events)
            #expect(events == Array(liveEvents[eventCount...]) + finalEvents, "resumed after reading \(start)")
            #expect(engine.snapshot() == finished.snapshot())
        }
    }

    @Test func aWholeSnapshotSavedByDeviceRestoresToTheSameEngine() throws {
        // What the processor does with a snapshot of an older build: restore it whole, save every device.
        let configuration = try Self.configuration()
        var engine = AnomalyEngine(configuration: configuration)
        var events: [AnomalyEvent] = []
        Self.feed(AnomalyStreamScript(devices: 12, seed: 8, hours: 3).readings()[...], to: &engine, into: &events)
        var upgraded = try AnomalyEngine(configuration: configuration, snapshot: engine.snapshot())
        #expect(upgraded.changedDeviceCount == 0)
        upgraded.markEveryDeviceChanged()
        #expect(upgraded.changedDeviceCount == engine.deviceCount)
        var store = Store()
        #expect(store.checkpoint(&upgraded) == engine.deviceCount)
        #expect(try store.restored(configuration).snapshot() == engine.snapshot())
    }

    @Test func incompleteOrMismatchedChunksAreRefused() throws {
        var engine = AnomalyEngine()
        var events: [AnomalyEvent] = []
        Self.feed(AnomalyStreamScript(devices: 6, seed: 4, hours: 2).readings()[...], to: &engine, into: &events)
        var store = Store()
        _ = store.checkpoint(&engine)
        let chunks = store.chunks.keys.sorted().map { store.chunks[$0]! }
        #expect(throws: AnomalySnapshotError.self) { try AnomalyEngine(header: store.header, deviceChunks: Array(chunks.dropLast())) }
        #expect(throws: AnomalySnapshotError.self) { try AnomalyEngine(header: store.header, deviceChunks: [chunks[1], chunks[0]] + chunks.dropFirst(2)) }
        #expect(throws: AnomalySnapshotError.self) { try AnomalyEngine(header: store.header, deviceChunks: chunks.dropLast() + [Array(chunks.last!.dropLast())]) }
        #expect(throws: AnomalySnapshotError.self) { try AnomalyEngine(header: engine.snapshot(), deviceChunks: chunks) }
        #expect(!AnomalyEngine.isStateHeader(engine.snapshot()) && AnomalyEngine.isStateHeader(store.header))
        #expect(try AnomalyEngine(header: store.header, deviceChunks: chunks).snapshot() == engine.snapshot())
    }
}
