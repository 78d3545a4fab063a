import KappaCore
import Testing
@testable import KappaStream

@Suite struct SeriesRegistryTests {
    /// Colliding hashes (a handful of values for hundreds of numbers) and removals in random order: every number
    /// in the index is found by its hash, none removed is, and the count follows.
    @Test func indexFindsEveryNumberThroughCollisionsAndRemovals() {
        var random = SplitMix64(seed: 17)
        var index = SeriesNumberIndex()
        var present = Set<UInt32>()
        let hashOf = { (number: UInt32) -> UInt32 in number % 7 == 0 ? 0xFFFF_FFF0 : number % 5 }
        for step in 0..<20_000 {
            let number = UInt32(random.next() % 600)
            if present.contains(number) {
                if random.next() % 2 == 0 {
                    index.remove(number)
                    present.remove(number)
                }
            } else {
                index.insert(number, hash: hashOf(number))
                present.insert(number)
            }
            if step % 500 == 0 || step == 19_999 {
                #expect(index.count == present.count)
                for candidate in UInt32(0)..<600 {
                    let found = index.find(hash: hashOf(candidate)) { $0 == candidate }
                    #expect((found != nil) == present.contains(candidate), "number \(candidate) at step \(step)")
                }
            }
        }
    }

    /// Holding and releasing by several holders, as processors do: a held name keeps its number, a name nobody
    /// holds is forgotten and its number reused, and names come back right after devices and metrics were reused.
    @Test func registryKeepsNamesWhileHeldAndReusesNumbersAfterwards() {
        let registry = SeriesRegistry()
        var random = SplitMix64(seed: 3)
        var model: [SeriesName: (number: UInt32, holders: Set<Int>)] = [:]
        for _ in 0..<30_000 {
            let name = SeriesName(device: "device-\(random.next() % 40)", metric: "metric-\(random.next() % 6)")
            let holder = Int(random.next() % 3)
            if let entry = model[name], entry.holders.contains(holder), random.next() % 3 == 0 {
                registry.release([entry.number])
                model[name]!.holders.remove(holder)
                if model[name]!.holders.isEmpty { model[name] = nil }
                continue
            }
            let holders = model[name]?.holders ?? []
            let number = registry.hold(device: name.device, metric: name.metric) { _ in holders.contains(holder) }
            if let entry = model[name] { #expect(entry.number == number, "a held series keeps its number") }
            #expect(!model.contains { $0.key != name && $0.value.number == number }, "numbers are not shared")
            model[name, default: (number, [])].holders.insert(holder)
        }
        #expect(registry.heldCount == model.count)
        #expect(registry.reusedCount > 0)
        for (name, entry) in model { #expect(registry[entry.number] == name) }
    }
}
