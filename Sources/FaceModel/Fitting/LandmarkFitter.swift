import Foundation
import Torch

/// Fits head pose p, identity α and expression β to MediaPipe's 468 Face Mesh landmarks, seen through the
/// renderer's camera (`Camera.deep3DFaceRecon(size:)` of a square crop), then optionally gaze ω from the
/// iris centres and texture δ / illumination γ photometrically (`CoefficientFitter`'s loss, with only
/// those parts free). Each landmark is a fixed point of the model surface (`MeshCorrespondence`:
/// triangle + barycentrics), so its 3D position is linear in α and β and the reprojection loss
///   L = Σ_k w_k ‖π(R(a)·X_k(α, β) + t) − l_k‖² / Σ_k w_k + λ_id‖α‖² + λ_exp‖β‖² + λ_neg‖min(β, 0)‖²
///     + λ_t ‖(p, β) − (p, β)_prev‖²       (videos)
/// (pixels²) is minimised with Adam: first the rigid pose on the mean face, then pose, identity and
/// expression together. β is kept mostly non-negative because the default model's expression units
/// are blendshape activations (1 = fully on).
public final class LandmarkFitter {
    public struct Options: Sendable {
        /// Side of the square crop the landmarks are given in (pixels).
        public var size = 256
        public var rigidIterations = 80
        public var iterations = 250
        public var learningRate = 0.03
        public var identityWeight = 0.02
        public var expressionWeight = 0.05
        public var negativeExpressionWeight = 20.0
        /// Weight of the pull towards the previous frame (videos); 0 for single images.
        public var temporalWeight = 0.0
        /// Weight of Face Mesh's relative depth (z) against the model's (both centred, in crop pixels):
        /// it pins pitch and yaw, which 2D points alone leave ambiguous with identity.
        public var depthWeight = 0.5
        public var freeDepthScale = true
        /// Use the depth term only while fitting the rigid pose on the mean face.
        public var depthInRigidStageOnly = true
        public var fitIdentity = true
        public var gazeIterations = 80
        /// Photometric refinement steps of texture and illumination (0 = none; needs the crop image).
        public var photometricIterations = 0
        public var photometricSize = 128
        public init() {}
    }

    /// What is known about one face in crop pixels.
    public struct Observation {
        /// 468 Face Mesh points (x, y) in pixels of the `size`×`size` crop.
        public var landmarks: [SIMD2<Double>]
        /// Face Mesh's relative depths (pixels of the crop, smaller = nearer the camera), if used.
        public var depths: [Double]?
        /// Iris centres of the eye on the image's left and on the image's right, if known.
        public var irisCenters: [SIMD2<Double>]?
        /// The crop as 1×3×size×size in [-1, 1], for the photometric refinement.
        public var image: Tensor?
        public init(landmarks: [SIMD2<Double>], depths: [Double]? = nil, irisCenters: [SIMD2<Double>]? = nil, image: Tensor? = nil) {
            self.landmarks = landmarks; self.depths = depths; self.irisCenters = irisCenters; self.image = image
        }
    }

    public struct Result {
        public var coefficients: Coefficients
        /// Weighted mean distance (pixels of the crop) between the fitted model's landmarks and the observation.
        public var reprojectionError: Double
        /// The fitted model's 468 landmarks in crop pixels.
        public var projected: [SIMD2<Double>]
        public var losses: [Double]
    }

    public let renderer: FaceRenderer
    public let correspondence: MeshCorrespondence
    public var options: Options
    private let lmMean: Tensor, lmIdentity: Tensor, lmExpression: Tensor   // 468×3, 1404×80, 1404×64
    private let weights: Tensor                                              // 468
    private let normals: Tensor                                              // 468×3, mean face

    public init(renderer: FaceRenderer, correspondence: MeshCorrespondence, options: Options = Options()) throws {
        let model = renderer.model
        try correspondence.validate(vertexCount: model.vertexCount)
        self.renderer = renderer
        self.correspondence = correspondence
        self.options = options
        let v = model.vertexCount
        lmMean = try correspondence.points(of: model.meanShape.unsqueeze(0)).squeeze(0)
        func basis(_ b: Tensor) throws -> Tensor {
            let k = b.size(1)
            let asShapes = try b.reshape([v, 3, k]).permute(2, 0, 1).contiguous()          // k×V×3
            return try correspondence.points(of: asShapes).permute(1, 2, 0).reshape([468 * 3, k]).contiguous()
        }
        lmIdentity = try basis(model.identityBasis)
        lmExpression = try basis(model.expressionBasis)
        weights = try Tensor(correspondence.weights.map(Float.init))
        // Unit normals of the landmarks' triangles on the mean face (triangles are counter-clockwise seen from outside).
        let mean = try model.meanShape.contiguous().floats()
        var n: [Float] = []
        for v in correspondence.vertices {
            func p(_ i: Int) -> SIMD3<Float> { SIMD3(mean[3 * i], mean[3 * i + 1], mean[3 * i + 2]) }
            let a = p(v[0]), b = p(v[1]), c = p(v[2])
            let u = b - a, w = c - a
            var cr = SIMD3(u.y * w.z - u.z * w.y, u.z * w.x - u.x * w.z, u.x * w.y - u.y * w.x)
            let len = (cr * cr).sum().squareRoot()
            cr = len > 0 ? cr / len : SIMD3(0, 0, 1)
            n += [cr.x, cr.y, cr.z]
        }
        normals = try Tensor(n, shape: [468, 3])
    }

    /// Landmark weights times a visibility factor: points whose surface turns away from the camera
    /// (n_z below 0.6 after rotation) fade to 0 at n_z = 0.2, because Face Mesh puts them on the silhouette,
    /// not on their surface point, which would pull the fit towards a frontal pose.
    func visibleWeights(_ angles: Tensor) throws -> Tensor {
        let r = try Pose.rotationMatrix(angles.detach()).squeeze(0)
        let nz = try normals.matmul(r.transpose(0, 1)).select(1, 2)
        return try weights * ((nz - 0.2) / 0.4).clamp(min: 0, max: 1)
    }

    /// The 468 model landmarks N×468×2 (crop pixels) for coefficients.
    public func project(_ c: Coefficients) throws -> Tensor {
        try project(angles: c.angles, translation: c.translation, identity: c.identity, expression: c.expression)
    }

    func project(angles: Tensor, translation: Tensor, identity: Tensor, expression: Tensor) throws -> Tensor {
        try projectWithDepth(angles: angles, translation: translation, identity: identity, expression: expression).pixels
    }

    /// Pixels N×468×2 and relative depth N×468 in pixels (−(z − mean z)·f/d: smaller = nearer, like Face Mesh).
    func projectWithDepth(angles: Tensor, translation: Tensor, identity: Tensor, expression: Tensor) throws -> (pixels: Tensor, depth: Tensor) {
        let n = angles.size(0)
        let offsets = try identity.matmul(lmIdentity.transpose(0, 1)) + expression.matmul(lmExpression.transpose(0, 1))
        let shape = try lmMean.unsqueeze(0) + offsets.reshape([n, 468, 3])
        let posed = try Pose.apply(shape, rotation: Pose.rotationMatrix(angles), translation: translation)
        let cam = Camera.deep3DFaceRecon(size: options.size)
        let (px, d) = try cam.project(posed)
        let z = try posed.select(-1, 2)
        let rel = try (z - (z * weights).sum(dim: 1, keepDim: true) / weights.sum()) * (-cam.focal) / d
        return (px, rel)
    }

    /// Fits one face. `initial` warm-starts (a previous frame); `previous` adds the temporal term.
    public func fit(_ obs: Observation, initial: Coefficients? = nil, previous: Coefficients? = nil) throws -> Result {
        guard obs.landmarks.count == 468 else { throw FaceModelError.invalidArgument("LandmarkFitter needs 468 landmarks, got \(obs.landmarks.count)") }
        guard obs.landmarks.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { throw FaceModelError.invalidArgument("landmarks contain NaN or infinite values") }
        let target = try Tensor(obs.landmarks.flatMap { [Float($0.x), Float($0.y)] }, shape: [1, 468, 2])
        if let d = obs.depths, d.count != 468 || !d.allSatisfy({ $0.isFinite }) {
            throw FaceModelError.invalidArgument("depths must be 468 finite values")
        }
        let wz = options.depthWeight
        let depthTarget: Tensor? = try obs.depths.flatMap { d in
            guard wz > 0 else { return nil }
            let t = try Tensor(d.map(Float.init), shape: [1, 468])
            return try t - (t * weights).sum(dim: 1, keepDim: true) / weights.sum()
        }
        let start = try initial ?? initialGuess(obs.landmarks)
        var losses: [Double] = []
        let angles = try start.angles.detach().clone().requiresGrad(true)
        let translation = try start.translation.detach().clone().requiresGrad(true)
        let identity = try start.identity.detach().clone().requiresGrad(true)
        let expression = try start.expression.detach().clone().requiresGrad(true)
        // Face Mesh's z is scaled like x only roughly: a free log-scale between its depths and the model's.
        let depthScale = try Tensor.zeros([1]).requiresGrad(true)

        func loss(_ free: Bool) throws -> Tensor {
            let (proj, depth) = try projectWithDepth(angles: angles, translation: translation, identity: identity, expression: expression)
            let w = try visibleWeights(angles)
            let ws = try w.sum().clamp(min: 1e-6)
            var l = try ((proj - target).square().sum(dim: 2).squeeze(0) * w).sum() / ws
            if let dt = depthTarget, !free || !options.depthInRigidStageOnly {
                l = try l + ((depth * depthScale.exp() - dt).square().squeeze(0) * w).sum() / ws * wz
            }
            if free {
                if options.fitIdentity { l = try l + identity.square().sum() * options.identityWeight }
                l = try l + expression.square().sum() * options.expressionWeight
                l = try l + expression.neg().relu().square().sum() * options.negativeExpressionWeight
                if let p = previous, options.temporalWeight > 0 {
                    l = try l + ((angles - p.angles).square().sum() * 100 + (translation - p.translation).square().sum() * 100
                                 + (expression - p.expression).square().sum()) * options.temporalWeight
                }
            }
            return l
        }
        func run(_ params: [(String, Tensor)], steps: Int, free: Bool) throws {
            guard steps > 0 else { return }
            let opt = try AdamW(params, config: .init(learningRate: options.learningRate, weightDecay: 0))
            for s in 0..<steps {
                try opt.zeroGrad()
                let l = try loss(free)
                try l.backward()
                // Cosine decay to 10 % for a settled end point.
                opt.config.learningRate = options.learningRate * (0.55 + 0.45 * cos(Double.pi * Double(s) / Double(steps)))
                try Torch.noGrad { try opt.update() }
                losses.append(try l.item())
            }
        }
        if initial == nil {
            var rigid = [("angles", angles), ("translation", translation)]
            if options.freeDepthScale && depthTarget != nil { rigid.append(("depthScale", depthScale)) }
            try run(rigid, steps: options.rigidIterations, free: false)
        }
        var params = [("angles", angles), ("translation", translation), ("expression", expression)]
        if options.freeDepthScale { params.append(("depthScale", depthScale)) }
        if options.fitIdentity { params.append(("identity", identity)) }
        try run(params, steps: options.iterations, free: true)

        var rho = try start.replacing(.pose, with: Tensor.cat([angles.detach(), translation.detach()], dim: 1))
            .replacing(.identity, with: identity.detach()).replacing(.expression, with: expression.detach())
        if let iris = obs.irisCenters, iris.count == 2, options.gazeIterations > 0 {
            rho = try rho.replacing(.gaze, with: fitGaze(rho, irisCenters: iris))
        }
        if let image = obs.image, options.photometricIterations > 0 {
            var o = CoefficientFitter.Options()
            o.parts = [.texture, .illumination]
            o.iterations = options.photometricIterations
            o.size = options.photometricSize
            let small = image.size(-1) == o.size ? image : try F.interpolate(image, size: (o.size, o.size), mode: .bilinear(alignCorners: false))
            let fitted = try CoefficientFitter(renderer: renderer, options: o).fit(image: small, initial: rho).coefficients
            rho = try rho.replacing(.texture, with: fitted.texture).replacing(.illumination, with: fitted.illumination)
        }
        let proj = try Torch.noGrad { try project(rho) }.floats()
        let pts = (0..<468).map { SIMD2(Double(proj[2 * $0]), Double(proj[2 * $0 + 1])) }
        var err = 0.0, wt = 0.0
        for k in 0..<468 {
            let w = correspondence.weights[k]
            let d = pts[k] - obs.landmarks[k]
            err += w * (d * d).sum().squareRoot(); wt += w
        }
        return Result(coefficients: rho, reprojectionError: err / max(wt, 1e-9), projected: pts, losses: losses)
    }

    /// Fits a video: the first frame fully, later frames warm-started from the previous one with identity
    /// fixed, fewer steps and the temporal term.
    public func fitSequence(_ frames: [Observation], iterationsPerFrame: Int = 60, temporalWeight: Double = 1.0) throws -> [Result] {
        var out: [Result] = []
        let saved = options
        defer { options = saved }
        for (i, f) in frames.enumerated() {
            if i == 1 {
                options.fitIdentity = false
                options.iterations = iterationsPerFrame
                options.temporalWeight = temporalWeight
                options.gazeIterations = min(options.gazeIterations, 30)
                options.photometricIterations = 0
            }
            let prev = out.last?.coefficients
            out.append(try fit(f, initial: prev, previous: prev))
        }
        return out
    }

    /// Pose from the landmarks' centroid, spread and eye line, mean face (the rigid stage refines it).
    public func initialGuess(_ lm: [SIMD2<Double>]) throws -> Coefficients {
        let zero = try Coefficients.zeros()
        let base = try Torch.noGrad { try project(zero) }.floats()
        let w = correspondence.weights
        func stats(_ p: (Int) -> SIMD2<Double>) -> (SIMD2<Double>, Double) {
            var c = SIMD2<Double>(0, 0), wt = 0.0
            for k in 0..<468 { c += w[k] * p(k); wt += w[k] }
            c /= max(wt, 1e-9)
            var s = 0.0
            for k in 0..<468 { let d = p(k) - c; s += w[k] * (d * d).sum() }
            return (c, (s / max(wt, 1e-9)).squareRoot())
        }
        let (c0, s0) = stats { SIMD2(Double(base[2 * $0]), Double(base[2 * $0 + 1])) }
        let (c1, s1) = stats { lm[$0] }
        let cam = Camera.deep3DFaceRecon(size: options.size)
        let d = cam.distance * s0 / max(s1, 1e-6)
        let tx = (c1.x - c0.x) * d / cam.focal, ty = -(c1.y - c0.y) * d / cam.focal
        let eye = lm[263] - lm[33]
        let roll = -atan2(eye.y, eye.x)
        let pose = try Tensor([0, 0, Float(roll), Float(tx), Float(ty), Float(cam.distance - d)], shape: [1, 6])
        return try zero.replacing(.pose, with: pose)
    }

    /// ω from the iris centres. Each eyeball (the model's eye vertices, with the fitted shape and pose) is
    /// turned about its centre exactly as `FaceRenderer.rotateEye` turns it for ω, and ω is chosen so that
    /// its pupil (the darkest 10 % of the eye's albedo) projects onto the iris centre. The subject's left
    /// eye (model +x) is the one on the image's right.
    func fitGaze(_ rho: Coefficients, irisCenters: [SIMD2<Double>]) throws -> Tensor {
        let model = renderer.model
        guard let left = model.leftEyeVertices, let right = model.rightEyeVertices else { return try rho.gaze }
        let shape = try Torch.noGrad { try model.shape(identity: rho.identity, expression: rho.expression) }
        let albedo = try model.meanTexture
        let rotation = try Pose.rotationMatrix(rho.angles)
        let cam = Camera.deep3DFaceRecon(size: options.size)
        var gaze: [Float] = []
        for (verts, iris) in [(left, irisCenters[1]), (right, irisCenters[0])] {
            let eye = try shape.indexSelect(1, verts)                                  // 1×k×3
            let centre = try eye.mean(dim: 1, keepDim: true)
            let lum = try albedo.indexSelect(0, verts).mean(dim: 1).floats()
            let dark = lum.indices.sorted { lum[$0] < lum[$1] }.prefix(max(1, lum.count / 10)).map { Int64($0) }
            let pupil = try eye.indexSelect(1, Tensor(dark)).mean(dim: 1, keepDim: true) - centre  // 1×1×3, at rest
            let g = try Tensor.zeros([1, 2]).requiresGrad(true)
            let target = try Tensor([Float(iris.x), Float(iris.y)], shape: [1, 1, 2])
            let opt = try AdamW([("gaze", g)], config: .init(learningRate: 0.03, weightDecay: 0))
            for _ in 0..<options.gazeIterations {
                try opt.zeroGrad()
                let x = try g.select(1, 0).clamp(min: -0.95, max: 0.95), y = try g.select(1, 1).clamp(min: -0.95, max: 0.95)
                let z = try (1.0 - x.square() - y.square()).clamp(min: 0.05).sqrt()
                let turn = try Pose.rotationMatrix(Tensor.stack([try -(y.asin()), try x.atan2(z), try x * 0.0], dim: 1))
                let moved = try centre + pupil.matmul(turn.transpose(1, 2))
                let posed = try Pose.apply(moved, rotation: rotation, translation: rho.translation)
                let l = try (cam.project(posed).pixels - target).square().sum()
                try l.backward()
                try Torch.noGrad { try opt.update() }
            }
            gaze += try g.detach().clamp(min: -0.95, max: 0.95).floats()
        }
        return try Tensor(gaze, shape: [1, 4])
    }
}
