/// FNV-1a, 64 bits: the stable hash that routes a key to its partition.
///
/// Stable across processes, machines and Swift versions (unlike `Hasher`, which is seeded per process), so a
/// device's records land in the same partition forever. Changing it would reorder devices across partitions:
/// the stream metadata records its name for that reason.
package enum StableHash {
    package static let name = "fnv1a-64"

    package static func fnv1a64<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }

    package static func partition<Bytes: Sequence<UInt8>>(forKey key: Bytes, partitionCount: Int) -> Int {
        Int(fnv1a64(key) % UInt64(partitionCount))
    }
}
