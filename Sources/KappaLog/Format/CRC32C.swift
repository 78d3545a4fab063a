import CCRC32C

/// CRC-32C (Castagnoli), the checksum of record batches and index files.
///
/// The CPU's `crc32` instruction where it has one (x86-64 with SSE 4.2, AArch64 with CRC32), reached through
/// the small C target `CCRC32C`, since Swift cannot emit it; else table-driven slicing-by-8 in Swift. Every
/// appended batch and every batch a process reads first is checksummed, and the tail's batches are small (a
/// burst of messages), so the per-call cost counts: see ReadPathBenchmark.
enum CRC32C {
    /// Whether the instruction is used; the same answer for the life of the process.
    static let usesHardware = kappa_crc32c_hardware_available() != 0

    private static let polynomial: UInt32 = 0x82F6_3B78  // reflected Castagnoli

    /// Eight 256-entry tables, table k at [k * 256 ..< (k + 1) * 256].
    private static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
            tables[byte] = crc
        }
        for byte in 0..<256 {
            for slice in 1..<8 {
                let previous = tables[(slice - 1) * 256 + byte]
                tables[slice * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0, bytes)
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// Continues a checksum over more bytes (`crc` is a previous result, 0 to start).
    static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard usesHardware else { return softwareUpdate(crc, bytes) }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return ~kappa_crc32c_hardware_update(~crc, base, bytes.count)
    }

    /// Slicing-by-8: where the CPU has no instruction, and the reference the instruction is tested against.
    static func softwareUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        tables.withUnsafeBufferPointer { table in
            var crc = ~crc
            var index = 0
            let count = bytes.count
            while index + 8 <= count {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let low = UInt32(truncatingIfNeeded: word) ^ crc
                let high = UInt32(truncatingIfNeeded: word >> 32)
                crc = table[7 * 256 + Int(low & 0xFF)]
                    ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xFF)]
                    ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(high & 0xFF)]
                    ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ table[1 * 256 + Int((high >> 16) & 0xFF)]
                    ^ table[Int(high >> 24)]
                index += 8
            }
            while index < count {
                crc = (crc >> 8) ^ table[Int((crc ^ UInt32(bytes[index])) & 0xFF)]
                index += 1
            }
            return ~crc
        }
    }
}
