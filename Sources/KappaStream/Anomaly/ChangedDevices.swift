/// The devices of one engine whose state changed since it was last saved: one bit per device, so a fleet of a
/// hundred thousand devices costs 12.5 KB, and the changed ones come out in index order.
struct ChangedDevices {
    private var words: [UInt64] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func insert(_ device: Int) {
        let word = device >> 6, bit: UInt64 = 1 << UInt64(device & 63)
        if word >= words.count { words.append(contentsOf: repeatElement(0, count: word - words.count + 1)) }
        guard words[word] & bit == 0 else { return }
        words[word] |= bit
        count += 1
    }

    func contains(_ device: Int) -> Bool {
        let word = device >> 6
        return word < words.count && words[word] & (1 << UInt64(device & 63)) != 0
    }

    /// Every device below `deviceCount`.
    mutating func insertAll(below deviceCount: Int) {
        words = [UInt64](repeating: .max, count: (deviceCount + 63) / 64)
        if deviceCount % 64 != 0 { words[words.count - 1] = (1 << UInt64(deviceCount % 64)) - 1 }
        count = deviceCount
    }

    mutating func removeAll() {
        guard count > 0 else { return }
        for index in words.indices { words[index] = 0 }
        count = 0
    }

    /// The changed devices in index order.
    var sorted: [Int32] {
        var devices: [Int32] = []
        devices.reserveCapacity(count)
        for (index, word) in words.enumerated() where word != 0 {
            var rest = word
            while rest != 0 {
                devices.append(Int32(index << 6 + rest.trailingZeroBitCount))
                rest &= rest - 1
            }
        }
        return devices
    }
}
