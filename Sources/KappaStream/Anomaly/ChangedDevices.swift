/// The devices of one engine whose state changed since it was last saved (a ``Bitmap``, so a fleet of a hundred
/// thousand devices costs 12.5 KB), counted as they are marked; the changed ones come out in index order.
struct ChangedDevices {
    private var devices = Bitmap()
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func insert(_ device: Int) {
        guard !devices[device] else { return }
        devices[device] = true
        count += 1
    }

    func contains(_ device: Int) -> Bool { devices[device] }

    /// Every device below `deviceCount`.
    mutating func insertAll(below deviceCount: Int) {
        devices.setAll(below: deviceCount)
        count = devices.setIndices.count
    }

    mutating func removeAll() {
        guard count > 0 else { return }
        devices.clearAll()
        count = 0
    }

    /// The changed devices in index order.
    var sorted: [Int32] { devices.setIndices.map { Int32($0) } }
}
