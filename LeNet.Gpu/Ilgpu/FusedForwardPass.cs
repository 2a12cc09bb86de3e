using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Model;
using P = LeNet.Gpu.Model.ParameterLayout;

using static LeNet.Gpu.Model.Architecture;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Ilgpu;

/// <summary>How an <see cref="IlgpuInferenceEngine"/> runs the forward pass.</summary>
public enum InferencePath
{
    /// <summary>One kernel per layer (<see cref="ForwardPass"/>); every activation goes through device memory.</summary>
    PerLayer,

    /// <summary>Three fused kernels (<see cref="FusedForwardPass"/>), two batches in flight (<see cref="FusedPipeline"/>).</summary>
    Fused,
}

/// <summary>The form of the images a batch arrives in.</summary>
public enum ImageFormat
{
    /// <summary>Floats [n][32·32], row-major, already in the model's input scale.</summary>
    Floats,

    /// <summary>Raw 28×28 bytes [n][784] (MNIST layout), padded and scaled on the device.</summary>
    MnistBytes,
}

/// <summary>
/// Device buffers for one batch of up to <see cref="Capacity"/> images on the fused path, all image-major, and the
/// three launches over them (<see cref="FusedKernels"/>). Only S2 and S4 go through device memory between kernels.
/// </summary>
public sealed class FusedForwardPass : IDisposable
{
    public int Capacity { get; }
    public MemoryBuffer1D<float, Stride1D.Dense> Images, S2, S4, Probabilities;
    public MemoryBuffer1D<byte, Stride1D.Dense> Bytes;
    public MemoryBuffer1D<int, Stride1D.Dense> Predictions;

    /// <summary>Threads per group of each kernel: the kernel's preferred size, capped by the device and the caller.</summary>
    public int C1S2Group { get; }
    public int C3S4Group { get; }
    public int DenseGroup { get; }

    /// <summary>Device bytes one image of capacity costs: both input forms, S2, S4, probabilities, prediction.</summary>
    public const long BytesPerImage = (Architecture.InputLength + Architecture.S2Length + Architecture.S4Length + Classes) * sizeof(float)
        + InputField.MnistLength + sizeof(int);

    /// <summary>Kernels index with int: the largest S2 offset must fit.</summary>
    public const int MaxCapacity = int.MaxValue / Architecture.S2Length;

    /// <param name="maxGroupSize">0: the kernels' preferred group sizes (capped by the device); else at most this
    /// many threads per group (tests use small groups on the CPU accelerator, where every barrier is expensive).</param>
    public FusedForwardPass(Accelerator accelerator, int capacity, int maxGroupSize = 0)
    {
        if (capacity < 1 || capacity > MaxCapacity)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"batch capacity must be 1 to {MaxCapacity}");
        if (maxGroupSize < 0) throw new ArgumentOutOfRangeException(nameof(maxGroupSize), maxGroupSize, "group size cap must be positive (or 0)");
        Capacity = capacity;
        int cap = Math.Min(accelerator.MaxNumThreadsPerGroup, maxGroupSize > 0 ? maxGroupSize : int.MaxValue);
        C1S2Group = Math.Min(FusedKernels.C1S2Group, cap);
        C3S4Group = Math.Min(FusedKernels.C3S4Group, cap);
        DenseGroup = Math.Min(FusedKernels.DenseGroup, cap);
        Images = accelerator.Allocate1D<float>((long)capacity * Architecture.InputLength);
        Bytes = accelerator.Allocate1D<byte>((long)capacity * InputField.MnistLength);
        S2 = accelerator.Allocate1D<float>((long)capacity * Architecture.S2Length);
        S4 = accelerator.Allocate1D<float>((long)capacity * Architecture.S4Length);
        Probabilities = accelerator.Allocate1D<float>((long)Classes * capacity);
        Predictions = accelerator.Allocate1D<int>(capacity);
    }

    /// <summary>
    /// The three fused kernels in order, each named by the first layer it computes: C1 (C1 and S2), C3 (C3 and S4), C5
    /// (C5, F6, OUTPUT and the softmax). <see cref="Launch"/> runs one of them.
    /// </summary>
    public static readonly IReadOnlyList<Layer> FirstLayers = [Layer.C1, Layer.C3, Layer.C5];

    /// <summary>
    /// Enqueues the three kernels on <paramref name="stream"/> for the <paramref name="count"/> images already in
    /// <see cref="Images"/> (or <see cref="Bytes"/>); probabilities and predictions of those images are written, no
    /// other element of any buffer. Returns without waiting.
    /// </summary>
    public void Run(FusedLaunches k, AcceleratorStream stream, DeviceParameters p, int count, ImageFormat format = ImageFormat.Floats)
    {
        foreach (var first in FirstLayers) Launch(first, k, stream, p, count, format);
    }

    /// <summary>
    /// The launch of the fused kernel that starts at <paramref name="first"/> (one of <see cref="FirstLayers"/>), the only
    /// place its arguments are written (the benchmarks time each alone).
    /// </summary>
    public void Launch(Layer first, FusedLaunches k, AcceleratorStream stream, DeviceParameters p, int count, ImageFormat format = ImageFormat.Floats)
    {
        if (count < 1 || count > Capacity)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"batch must hold 1 to {Capacity} images");
        var squash = p.Squashing.ToActivation();
        bool squashed = p.Convolutions == ConvolutionSquashing.Squashed; // C1 and C3 through the squashing function too
        switch (first)
        {
            case Layer.C1:
                var c1s2 = new C1S2Weights(p.View(P.C1Weight), p.View(P.C1Bias), p.View(P.S2Coefficient), p.View(P.S2Bias));
                if (format == ImageFormat.MnistBytes)
                    k.C1S2(stream, C1S2Group, count, squash, squashed, Bytes.View, c1s2, S2.View);
                else
                    k.C1S2(stream, C1S2Group, count, squash, squashed, Images.View, c1s2, S2.View);
                break;
            case Layer.C3:
                k.C3S4(stream, C3S4Group, count, squash, squashed, S2.View,
                    new C3S4Weights(p.View(P.C3Weight), p.View(P.C3Bias), p.C3Mask, p.View(P.S4Coefficient), p.View(P.S4Bias)), S4.View);
                break;
            case Layer.C5:
                k.C5F6Output(stream, DenseGroup, count, squash, S4.View,
                    new DenseLayersWeights(p.Dense(P.C5Weight, P.C5Bias), p.Dense(P.F6Weight, P.F6Bias), p.Dense(P.OutputWeight, P.OutputBias)),
                    Probabilities.View, Predictions.View);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(first), first, "no fused kernel starts at this layer");
        }
    }

    public void Dispose()
    {
        foreach (var b in new MemoryBuffer[] { Images, Bytes, S2, S4, Probabilities, Predictions })
            b.Dispose();
    }
}

/// <summary>
/// Streams many batches through the fused path with two batches in flight: two slots, each with its own
/// accelerator stream, device buffers (<see cref="FusedForwardPass"/>) and page-locked host buffers. While the
/// device computes batch b on one stream, the host copies batch b + 1 into the other slot's pinned buffer and
/// enqueues its upload, kernels and download; a slot is reused only after its stream has finished (and its results
/// have been copied out), so no buffer is overwritten while a copy or kernel may still use it.
/// On a GPU the pinned buffers make the copies truly asynchronous, so uploads and downloads overlap compute on the
/// other stream. ILGPU's CPU accelerator runs every operation synchronously: the same code is correct there, but
/// nothing overlaps.
/// </summary>
public sealed class FusedPipeline : IDisposable
{
    private sealed class Slot(Accelerator accelerator, int capacity, int maxGroupSize) : IDisposable
    {
        public readonly FusedForwardPass Pass = new(accelerator, capacity, maxGroupSize);
        public readonly AcceleratorStream Stream = accelerator.CreateStream();
        public readonly PageLockedArray1D<float> Probabilities = accelerator.AllocatePageLocked1D<float>((long)Classes * capacity, uninitialized: true);
        public readonly PageLockedArray1D<int> Predictions = accelerator.AllocatePageLocked1D<int>(capacity, uninitialized: true);
        private PageLockedArray1D<float>? floats;
        private PageLockedArray1D<byte>? bytes;

        /// <summary>The batch this slot holds: its first image and its size; 0 when none is in flight.</summary>
        public int First, Count;

        // Pinned input buffers are allocated on first use of each form: a caller that only sends bytes never pins 4 KB per image.
        public PageLockedArray1D<float> Floats => floats ??= accelerator.AllocatePageLocked1D<float>((long)capacity * Architecture.InputLength, uninitialized: true);
        public PageLockedArray1D<byte> Bytes => bytes ??= accelerator.AllocatePageLocked1D<byte>((long)capacity * InputField.MnistLength, uninitialized: true);

        public void Dispose()
        {
            Stream.Synchronize();
            Stream.Dispose();
            Pass.Dispose();
            Probabilities.Dispose();
            Predictions.Dispose();
            floats?.Dispose();
            bytes?.Dispose();
        }
    }

    private readonly Slot[] slots;

    public int Capacity { get; }

    /// <param name="capacity">Images per batch (per slot).</param>
    /// <param name="maxGroupSize">See <see cref="FusedForwardPass"/>.</param>
    public FusedPipeline(Accelerator accelerator, int capacity, int maxGroupSize = 0)
    {
        Capacity = capacity;
        slots = new Slot[2];
        try
        {
            for (int i = 0; i < slots.Length; i++) slots[i] = new Slot(accelerator, capacity, maxGroupSize);
        }
        catch
        {
            foreach (var s in slots) s?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Classifies n images given as floats [n][32·32] or bytes [n][784] (exactly one of the spans is non-empty),
    /// in batches of <see cref="Capacity"/>, and waits for all of them.
    /// </summary>
    /// <param name="beforeBatch">Called with each batch's index before its copies and launches (the engines' fault injection).</param>
    public Prediction Run(FusedLaunches k, DeviceParameters p, ReadOnlySpan<float> floats, ReadOnlySpan<byte> bytes, int n,
        Action<int>? beforeBatch = null)
    {
        var probabilities = new float[(long)n * Classes];
        var classes = new int[n];
        bool completed = false;
        try
        {
            int batch = 0;
            for (int first = 0; first < n; first += Capacity, batch++)
            {
                var slot = slots[batch & 1];
                Finish(slot, probabilities, classes); // the batch before last, if any: its buffers are about to be reused
                beforeBatch?.Invoke(batch);
                int count = Math.Min(Capacity, n - first);
                if (bytes.IsEmpty)
                {
                    int length = count * Architecture.InputLength;
                    floats.Slice(first * Architecture.InputLength, length).CopyTo(slot.Floats.Span);
                    slot.Pass.Images.View.BaseView.SubView(0, length).CopyFromCPUUnsafeAsync(slot.Stream, ref slot.Floats[0], length);
                    slot.Pass.Run(k, slot.Stream, p, count, ImageFormat.Floats);
                }
                else
                {
                    int length = count * InputField.MnistLength;
                    bytes.Slice(first * InputField.MnistLength, length).CopyTo(slot.Bytes.Span);
                    slot.Pass.Bytes.View.BaseView.SubView(0, length).CopyFromCPUUnsafeAsync(slot.Stream, ref slot.Bytes[0], length);
                    slot.Pass.Run(k, slot.Stream, p, count, ImageFormat.MnistBytes);
                }
                // Copies of exactly the batch's length: ILGPU's OpenCL copy of a sub-view of a pinned array would move
                // the whole array, so each copy wraps just the elements it needs.
                slot.Pass.Probabilities.View.BaseView.SubView(0, (long)count * Classes).CopyToCPUUnsafeAsync(slot.Stream, ref slot.Probabilities[0], (long)count * Classes);
                slot.Pass.Predictions.View.BaseView.SubView(0, count).CopyToCPUUnsafeAsync(slot.Stream, ref slot.Predictions[0], count);
                slot.First = first;
                slot.Count = count;
            }
            foreach (var slot in slots) Finish(slot, probabilities, classes);
            completed = true;
        }
        finally
        {
            // After an exception, drop whatever is still in flight so the next call starts clean. A driver that has
            // failed may fail again here: that must not hide the first error.
            foreach (var slot in slots)
            {
                try { slot.Stream.Synchronize(); }
                catch (AcceleratorException) when (!completed) { }
                slot.Count = 0;
            }
        }
        return new Prediction(probabilities, classes);
    }

    /// <summary>Waits for the slot's batch (if any) and copies its results out of the pinned buffers.</summary>
    private static void Finish(Slot slot, float[] probabilities, int[] classes)
    {
        if (slot.Count == 0) return;
        slot.Stream.Synchronize();
        slot.Probabilities.Span[..(slot.Count * Classes)].CopyTo(probabilities.AsSpan(slot.First * Classes));
        slot.Predictions.Span[..slot.Count].CopyTo(classes.AsSpan(slot.First));
        slot.Count = 0;
    }

    public void Dispose()
    {
        foreach (var slot in slots) slot.Dispose();
    }
}
