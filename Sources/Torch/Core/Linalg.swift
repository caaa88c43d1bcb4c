import CTorch
import Foundation

// Linear algebra that needs LAPACK (libtorch's own, through the shim).

extension Tensor {
    /// Eigenvalues (ascending) and eigenvectors (as columns) of a symmetric matrix or a batch of them, as
    /// `torch.linalg.eigh`; only the lower triangle is read. Use float64 for ill-conditioned matrices.
    public func symmetricEigen() throws -> (values: Tensor, vectors: Tensor) {
        var vectors: OpaquePointer? = nil
        let values = try Tensor.check(tg_linalg_eigh(handle, &vectors), "linalg.eigh(\(shape))")
        return (values, try Tensor.check(vectors, "linalg.eigh eigenvectors"))
    }

    /// The eigenvalues alone (ascending), as `torch.linalg.eigvalsh`.
    public func symmetricEigenvalues() throws -> Tensor {
        try Tensor.check(tg_linalg_eigh(handle, nil), "linalg.eigvalsh(\(shape))")
    }

    /// Singular values in descending order of a matrix or a batch of them, as `torch.linalg.svdvals`.
    public func singularValues() throws -> Tensor {
        try Tensor.check(tg_linalg_svdvals(handle), "linalg.svdvals(\(shape))")
    }
}
