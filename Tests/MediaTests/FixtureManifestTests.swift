import Foundation
import XCTest

/// scripts/fixtures/MANIFEST.json records every fixture under Tests/*/Fixtures: its sha256, size, the script that
/// makes it and the tools it was made with. A fixture changed, added or removed without rerunning
/// scripts/fixtures/rebuild_all.sh (or scripts/fixtures/manifest.py) fails here.
final class FixtureManifestTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Entry: Decodable {
        let path: String
        let sha256: String
        let size: Int
        let generator: String?
    }
    struct Manifest: Decodable { let fixtures: [Entry] }

    /// Paths (relative to the repository) of every file under Tests/*/Fixtures, recursively.
    static func fixtureFiles() throws -> Set<String> {
        let fm = FileManager.default
        var found: Set<String> = []
        for target in try fm.contentsOfDirectory(atPath: root.appendingPathComponent("Tests").path) {
            let folder = "Tests/\(target)/Fixtures"
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: root.appendingPathComponent(folder).path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let walker = try XCTUnwrap(fm.enumerator(atPath: root.appendingPathComponent(folder).path))
            while let relative = walker.nextObject() as? String {
                var dir: ObjCBool = false
                if fm.fileExists(atPath: root.appendingPathComponent("\(folder)/\(relative)").path, isDirectory: &dir), !dir.boolValue {
                    found.insert("\(folder)/\(relative)")
                }
            }
        }
        return found
    }

    /// sha256 of each file, by coreutils' sha256sum (one process for all).
    static func sha256(_ paths: [String]) throws -> [String: String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sha256sum", "--"] + paths
        p.currentDirectoryURL = root
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "sha256sum failed")
        var out: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            out[String(parts[1].drop { $0 == " " || $0 == "*" })] = String(parts[0])
        }
        return out
    }

    func testEveryFixtureIsRecordedWithItsHashAndGenerator() throws {
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: Self.root.appendingPathComponent("scripts/fixtures/MANIFEST.json")))
        let recorded = Dictionary(manifest.fixtures.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(recorded.count, manifest.fixtures.count, "a path is listed twice")
        let files = try Self.fixtureFiles()
        XCTAssertGreaterThan(files.count, 30, "fixtures not found under \(Self.root.path)/Tests")
        let unrecorded = files.subtracting(recorded.keys).sorted(), missing = Set(recorded.keys).subtracting(files).sorted()
        XCTAssertEqual(unrecorded, [], "fixtures not in scripts/fixtures/MANIFEST.json: run scripts/fixtures/manifest.py")
        XCTAssertEqual(missing, [], "manifest entries whose file is gone")

        let present = files.intersection(recorded.keys).sorted()
        let hashes = try Self.sha256(present)
        for path in present {
            let entry = recorded[path]!
            XCTAssertEqual(hashes[path], entry.sha256, "\(path) differs from the manifest: regenerate it with its generator and rerun manifest.py")
            let size = try FileManager.default.attributesOfItem(atPath: Self.root.appendingPathComponent(path).path)[.size] as? Int
            XCTAssertEqual(size, entry.size, path)
            if let generator = entry.generator {
                XCTAssertTrue(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(generator).path), "\(path): generator \(generator) does not exist")
            } else {
                XCTAssertEqual(entry.size, 0, "\(path): only empty placeholders may have no generator")
            }
        }
    }
}
