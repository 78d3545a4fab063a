import Testing
@testable import KappaLog

/// The CPU's CRC-32C instruction (through `CCRC32C`) against the table-driven code, which the standard check
/// values pin down; on a CPU without the instruction both sides are the table and the test says nothing more.
@Suite struct CRC32CInstructionTests {
    /// Every length up to 300 at every alignment within 8 bytes: the word loop, the byte tail and unaligned loads.
    @Test func instructionMatchesTheTablesAtEveryLengthAndAlignment() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes = (0..<320).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        bytes.withUnsafeBytes { raw in
            for start in 0..<8 {
                for length in 0...300 {
                    let slice = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                    let used = CRC32C.update(0, slice)
                    let table = CRC32C.softwareUpdate(0, slice)
                    #expect(used == table, "start \(start), length \(length)")
                    if used != table { return }
                }
            }
        }
    }

    @Test func instructionContinuesAChecksumAsTheTablesDo() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        bytes.withUnsafeBytes { raw in
            var used: UInt32 = 0
            var table: UInt32 = 0
            var start = 0
            for piece in [1, 7, 8, 9, 15, 64, 333, 563] {
                let slice = UnsafeRawBufferPointer(rebasing: raw[start..<(start + piece)])
                used = CRC32C.update(used, slice)
                table = CRC32C.softwareUpdate(table, slice)
                start += piece
            }
            #expect(start == bytes.count)
            #expect(used == table)
            #expect(used == CRC32C.softwareUpdate(0, raw))
        }
    }
}
