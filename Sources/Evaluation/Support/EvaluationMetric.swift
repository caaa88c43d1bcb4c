import Foundation

/// Every number an evaluation reports, with the column header the tables print.
public enum EvaluationMetric: String, Codable, CaseIterable, Sendable, CodingKeyRepresentable {
    case psnr, ssim, lpips
    /// ‖β(generated) − β(reference)‖₂, both estimated from the images (the paper's Table 1 protocol).
    case expression
    /// ‖angles(generated) − angles(reference)‖₂ in radians (yaw, pitch, roll).
    case angle
    /// ‖ω(generated) − ω(reference)‖₂ (4 gaze values).
    case gaze
    /// The same three against known coefficients ρ̂ (ground truth on the synthetic benchmark, the pipeline's ρ̂).
    case expressionToCoefficients, angleToCoefficients, gazeToCoefficients
    /// Identity cosine similarity generated vs source (ID-C of Tables 1 and 3, ID-A of Table 4), dlib embedding.
    case identity
    /// dlib's Euclidean embedding distance generated vs source (same person below 0.6).
    case identityDistance
    /// Share of images dlib calls the source's person (distance < 0.6).
    case identityMatch
    /// Mean Face Mesh landmark distance, lips (40 points) and all 468, in pixels of a 256-wide frame.
    case lmdMouth, lmdAll
    case fid, kid
    /// Share of images whose fer class equals the reference image's class.
    case emotionAgreement
    /// Share of images whose fer class is the intended emotion.
    case emotionAccuracy
    /// ‖p(generated) − p(reference)‖₂ of fer's 7 probabilities: a stand-in for the paper's EFD.
    case emotionDistance
    /// Lip-sync proxy: correlation of audio energy and mouth opening (no SyncNet weights are installable).
    case lipSync
    /// Mean absolute change outside the face (8-bit levels) against the image that should keep its background.
    case backgroundChange
    /// Mean absolute frame-to-frame change outside the face (8-bit levels), videos.
    case flicker
    /// Share of images in which a face was found.
    case faceFound

    /// The column header, with the better direction.
    public var header: String {
        switch self {
        case .psnr: return "PSNR ↑ (dB)"
        case .ssim: return "SSIM ↑"
        case .lpips: return "LPIPS ↓"
        case .expression: return "Exp ↓"
        case .angle: return "Angle ↓ (rad)"
        case .gaze: return "Gaze ↓"
        case .expressionToCoefficients: return "Exp vs ρ̂ ↓"
        case .angleToCoefficients: return "Angle vs ρ̂ ↓"
        case .gazeToCoefficients: return "Gaze vs ρ̂ ↓"
        case .identity: return "ID cos ↑"
        case .identityDistance: return "ID dist ↓"
        case .identityMatch: return "same ID ↑"
        case .lmdMouth: return "LMD mouth ↓ (px)"
        case .lmdAll: return "LMD all ↓ (px)"
        case .fid: return "FID ↓"
        case .kid: return "KID ↓"
        case .emotionAgreement: return "Emo agree ↑"
        case .emotionAccuracy: return "Emo acc ↑"
        case .emotionDistance: return "EFD* ↓"
        case .lipSync: return "Sync* ↑"
        case .backgroundChange: return "BG Δ ↓"
        case .flicker: return "Flicker ↓"
        case .faceFound: return "face found"
        }
    }

    /// Decimals printed.
    public var digits: Int {
        switch self {
        case .psnr, .fid, .lmdMouth, .lmdAll, .backgroundChange, .flicker, .expression, .expressionToCoefficients: return 2
        case .kid, .lpips, .angle, .angleToCoefficients, .ssim: return 4
        default: return 3
        }
    }

    /// Set-level metrics have one value for the whole set (± the KID subset spread), not a per-image mean.
    public var isSetLevel: Bool { self == .fid || self == .kid || self == .lipSync }
}

/// The paper's tables, as column lists: a report prints each table with the columns it measured.
public enum PaperTable: String, CaseIterable, Sendable {
    /// Table 1 (reenactment) and Table 2 (its ablations): PSNR, LPIPS, Exp, Angle, Gaze, ID-C, FID.
    case reenactment
    /// Table 3 (talking faces): EFD, LMD, Sync, ID-C, FID.
    case talkingFace
    /// Table 4 (face swapping): ID-A, Exp, Angle, FID.
    case swap
    /// Not in the paper: checks of the real-photo pipeline (background kept, flicker, motion vs ρ̂).
    case pipeline

    public var title: String {
        switch self {
        case .reenactment: return "Table 1 / 2 columns (reenactment)"
        case .talkingFace: return "Table 3 columns (talking face)"
        case .swap: return "Table 4 columns (face swapping; ID = ID-A)"
        case .pipeline: return "Pipeline checks"
        }
    }

    public var columns: [EvaluationMetric] {
        switch self {
        case .reenactment: return [.psnr, .ssim, .lpips, .expression, .angle, .gaze, .identity, .fid, .kid]
        case .talkingFace: return [.emotionDistance, .emotionAgreement, .emotionAccuracy, .lmdMouth, .lmdAll, .lipSync, .identity, .fid, .kid]
        case .swap: return [.identity, .identityDistance, .expression, .angle, .fid, .kid]
        case .pipeline: return [.expressionToCoefficients, .angleToCoefficients, .gazeToCoefficients, .identityDistance, .identityMatch,
                                .backgroundChange, .flicker, .faceFound]
        }
    }
}

/// One row of a results table: named images and their metrics.
public struct EvaluationRow: Codable, Equatable, Sendable {
    public var name: String
    public var metrics: [EvaluationMetric: MetricSummary]

    public init(name: String, metrics: [EvaluationMetric: MetricSummary] = [:]) {
        self.name = name
        self.metrics = metrics
    }

    public subscript(_ m: EvaluationMetric) -> MetricSummary? {
        get { metrics[m] }
        set { metrics[m] = newValue }
    }

    /// Sets `m` from per-image values (nothing when none is available).
    public mutating func set(_ m: EvaluationMetric, _ values: [Double?]) {
        if let s = MetricSummary(values) { metrics[m] = s }
    }
}

/// Markdown tables of rows.
public enum EvaluationTable {
    /// `mean ± std (n)`; set-level values without the ± when their spread is 0.
    public static func cell(_ s: MetricSummary?, _ metric: EvaluationMetric, showCount: Bool) -> String {
        guard let s else { return "—" }
        let d = metric.digits
        // Set-level values print their spread only when it shows at this precision (KID over identical subsets has none).
        let spreadShows = s.std >= 0.5 * Foundation.pow(10, -Double(d))
        var text = metric.isSetLevel && !spreadShows ? String(format: "%.\(d)f", s.mean) : String(format: "%.\(d)f ± %.\(d)f", s.mean, s.std)
        if showCount { text += " (\(s.count))" }
        return text
    }

    /// One Markdown table of `rows` with the given columns; columns no row has are left out. Nil when none is left.
    public static func markdown(rows: [EvaluationRow], columns: [EvaluationMetric], showCount: Bool = true,
                                firstHeader: String = "images") -> String? {
        let used = columns.filter { c in rows.contains { $0[c] != nil } }
        guard !used.isEmpty else { return nil }
        var lines = ["| \(firstHeader) | " + used.map(\.header).joined(separator: " | ") + " |",
                     "|---|" + used.map { _ in "---|" }.joined()]
        for r in rows where used.contains(where: { r[$0] != nil }) {
            lines.append("| \(r.name) | " + used.map { cell(r[$0], $0, showCount: showCount) }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// Every paper table that has at least one measured column, each under its title.
    public static func paperTables(rows: [EvaluationRow], tables: [PaperTable] = PaperTable.allCases, showCount: Bool = true) -> String {
        tables.compactMap { t in
            markdown(rows: rows, columns: t.columns, showCount: showCount).map { "**\(t.title)**\n\n\($0)" }
        }.joined(separator: "\n\n")
    }
}
