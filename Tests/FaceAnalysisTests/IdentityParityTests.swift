import Foundation
import XCTest
@testable import FaceAnalysis
import Media
import Torch

/// The Swift identity pipeline against dlib 19.24 on the same pixels (fixtures made once by
/// scripts/fixtures/analysis_dlib.py): the network alone on dlib's chips, the shape predictor alone,
/// the chip alignment alone, and the whole box → embedding pipeline.
final class IdentityParityTests: XCTestCase {
    override func setUp() { Torch.configureThreads(1) }  // one thread: faster than two on a shared 2-core machine

    /// Network parity, independent of alignment: embeddings of the chips dlib cut (and of a non-face
    /// pattern) against dlib's embeddings of the same chips. Gate: cosine ≥ 0.999.
    func testNetworkMatchesDlibOnItsChips() throws {
        let encoder = try IdentityFixtures.encoder()
        let names = ["astronaut", "astronaut_flip", "astronaut_up3", "source", "pattern"]
        let chips = try names.map { try RGBImage(contentsOf: IdentityFixtures.fixture("chip_\($0).png")) }
        let ours = try encoder.embeddings(chips: chips)
        for (name, e) in zip(names, ours) {
            let ref = try IdentityFixtures.result(name).embedding
            let cos = try IdentityFixtures.cosine(e, ref)
            let maxDiff = zip(e, ref).map { abs($0 - $1) }.max()!
            print(String(format: "network parity %-15@ cosine %.7f  max |Δ| %.2e  distance %.2e", name as NSString, cos, maxDiff,
                         try FaceIdentityEncoder.distance(e, ref)))
            XCTAssertGreaterThanOrEqual(cos, 0.999, name)
            XCTAssertLessThan(maxDiff, 1e-3, name)   // dlib's own float32 kernels: 29 convs of fan-in ≤ 2304 give ≤ 29·8√2304·u ≈ 7e-4 of the unit embedding
        }
    }

    /// Shape predictor parity: the five points for the same box (HOG boxes and shifted, wide, tight
    /// ones). dlib rounds its points to pixels; gate: every coordinate within 0.5 px of dlib's.
    func testShapePredictorMatchesDlib() throws {
        let encoder = try IdentityFixtures.encoder()
        for r in try IdentityFixtures.images() {
            let image = try IdentityFixtures.image(of: r)
            let ours = try encoder.shapePredictor.landmarks(in: image, box: IdentityFixtures.box(of: r))
            let ref = try IdentityFixtures.parts(of: r)
            let err = zip(ours.points, ref.points).map { max(abs($0.x - $1.x), abs($0.y - $1.y)) }.max()!
            XCTAssertLessThanOrEqual(err, 0.5, "\(r.name): ours \(ours.points) dlib \(ref.points)")
        }
    }

    /// Chip parity: dlib's get_face_chip_details + extract_image_chip from dlib's own five points.
    /// Gates: the chip rectangle and angle to 1e-9, every pixel within 1 (dlib truncates interpolated
    /// values, so a last-bit difference in a sample position can move a byte by one), and under 1 %
    /// of the bytes different at all.
    func testChipAlignmentMatchesDlib() throws {
        for r in try IdentityFixtures.images() {
            let image = try IdentityFixtures.image(of: r)
            let align = try FaceChipAlignment(landmarks: IdentityFixtures.parts(of: r))
            let rect = r.chip_rect!
            for (a, b) in zip([align.left, align.top, align.right, align.bottom, align.angle], rect + [r.chip_angle!]) {
                XCTAssertEqual(a, b, accuracy: 1e-9, "\(r.name) chip details")   // dlib's formulas in double on values ≤ 1e3: a few ulps are ~1e-13
            }
            guard let url = Bundle.module.url(forResource: "Fixtures/identity/chip_\(r.name)", withExtension: "png") else { continue }
            let ref = try RGBImage(contentsOf: url)
            let ours = try align.extract(from: image)
            let diffs = zip(ours.pixels, ref.pixels).map { abs(Int($0) - Int($1)) }
            let changed = Double(diffs.filter { $0 > 0 }.count) / Double(diffs.count)
            print(String(format: "chip parity %-15@ max |Δ| %d, %.3f %% of bytes differ", r.name as NSString, diffs.max()!, 100 * changed))
            XCTAssertLessThanOrEqual(diffs.max()!, 1, r.name)
            XCTAssertLessThan(changed, 0.01, r.name)
        }
    }

    /// The whole pipeline (box → 5 points → chip → embedding) against dlib's. Gate: cosine ≥ 0.99.
    func testPipelineMatchesDlib() throws {
        let encoder = try IdentityFixtures.encoder()
        for r in try IdentityFixtures.images() {
            let image = try IdentityFixtures.image(of: r)
            let e = try encoder.embedding(of: image, box: IdentityFixtures.box(of: r), source: .dlibDetector)
            let cos = try IdentityFixtures.cosine(e, r.embedding)
            print(String(format: "pipeline parity %-17@ cosine %.7f", r.name as NSString, cos))
            XCTAssertGreaterThanOrEqual(cos, 0.99, r.name)
        }
    }
}
