using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// A zero-initialised array on the pinned object heap whose first element is 64-byte aligned, so that every
/// element of a tile (one vector of up to 16 floats) starts a cache line. The GC owns the memory, so nothing
/// needs disposing; the array never moves, so the pointer stays valid for the buffer's lifetime.
/// </summary>
internal sealed unsafe class PinnedBuffer<T> where T : unmanaged
{
    private const int Alignment = 64;
    private readonly T[] array;

    public T* Pointer { get; }
    public int Length { get; }

    public PinnedBuffer(long length)
    {
        if (length < 0 || length > int.MaxValue - Alignment)
            throw new ArgumentOutOfRangeException(nameof(length), length, "buffer too large for the CPU engine");
        Length = (int)length;
        array = GC.AllocateArray<T>(Length + Alignment / sizeof(T), pinned: true);
        byte* start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        Pointer = (T*)(((nint)start + Alignment - 1) & ~(nint)(Alignment - 1));
    }

    public Span<T> Span => new(Pointer, Length);

    public void Clear() => Span.Clear();
}
