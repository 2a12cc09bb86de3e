namespace LeNet.Gpu.Kernels;

/// <summary>
/// Marks a kernel method that is launched explicitly grouped (a <c>KernelConfig</c> of groups × threads, no index
/// parameter; it uses <c>Group</c>, <c>Grid</c>, shared memory and barriers). Reflection over the kernel classes
/// (<see cref="LeNetKernels.All"/>, the offline compilation tests) finds such kernels by this mark, since
/// they have no <c>Index1D</c> first parameter to be recognised by.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class ExplicitlyGroupedKernelAttribute : Attribute
{
    /// <summary>
    /// The threads per group a GPU launch uses (the same constant the launcher passes), so the offline checks can
    /// compute occupancy at the real group size; 0 when not declared.
    /// </summary>
    public int GroupSize { get; set; }
}
