import CTorch

/// Raw-pointer helpers used by the IO layer.
enum CTorchBridge {
    static func fromData(_ p: UnsafeRawPointer, _ dims: [Int64], _ dtype: DType) -> OpaquePointer? {
        tg_from_data(p, dims, Int32(dims.count), dtype.rawValue)
    }
    static func copyTo(_ t: Tensor, _ p: UnsafeMutableRawPointer?, _ n: Int) -> Int32 {
        tg_copy_to(t.handle, p, n)
    }
}
