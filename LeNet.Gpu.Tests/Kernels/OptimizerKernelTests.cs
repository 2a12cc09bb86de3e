using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Kernels;

/// <summary>
/// The update kernels over the whole flat buffer against their formulas evaluated in double (normwise
/// <see cref="Tolerance.Kernel"/>), with the trainable mask: the 900 masked C3 entries, given non-zero weights and
/// gradients here, must come out bit-for-bit unchanged, and so must their optimizer state.
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class OptimizerKernelTests
{
    private static readonly float[] Trainable = ParameterLayout.TrainableMask();
    private static readonly int N = ParameterLayout.Length;

    private static float[] Random(int seed, double lo, double hi) => TestData.RandomFloats(N, seed, lo, hi);

    /// <summary>Trainable entries close to <paramref name="expected"/>; masked entries exactly <paramref name="before"/>.</summary>
    private static void AssertUpdated(string what, float[] actual, double[] expected, float[] before)
    {
        var trainable = Enumerable.Range(0, N).Where(i => Trainable[i] == 1).ToArray();
        Tolerance.AssertClose(what, trainable.Select(i => actual[i]).ToArray(), trainable.Select(i => expected[i]).ToArray());
        for (int i = 0; i < N; i++)
            if (Trainable[i] == 0) Assert.True(actual[i].Equals(before[i]), $"{what}: masked entry {i} moved from {before[i]} to {actual[i]}");
    }

    /// <summary>Fewer threads than elements: each thread strides over several (the grid-stride loop).</summary>
    private const int Threads = 97;

    [SkippableTheory]
    [OnEveryAccelerator]
    public void SgdWithMomentumAndWeightDecay(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        float lr = 0.05f, momentum = 0.9f, decay = 1e-3f;
        var w = Random(1, -0.5, 0.5); var g = Random(2, -0.1, 0.1); var vel = Random(3, -0.01, 0.01);
        using var wb = gpu.Upload(w); using var gb = gpu.Upload(g); using var vb = gpu.Upload(vel); using var tb = gpu.Upload(Trainable);
        gpu.Kernels.Optimizer.Sgd(gpu.Stream, new SgdStep(lr, momentum, decay), wb.View, gb.View, vb.View, tb.View, Threads);
        gpu.Stream.Synchronize();

        var v2 = new double[N]; var w2 = new double[N];
        for (int i = 0; i < N; i++)
        {
            v2[i] = (double)momentum * vel[i] - (double)lr * (g[i] + (double)decay * w[i]);
            w2[i] = w[i] + v2[i];
        }
        AssertUpdated("sgd velocity", vb.GetAsArray1D(), v2, vel);
        AssertUpdated("sgd weights", wb.GetAsArray1D(), w2, w);
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void AdamWithBiasCorrection(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, decay = 1e-4f;
        const int step = 3;
        float c1 = 1 - MathF.Pow(b1, step), c2 = 1 - MathF.Pow(b2, step);
        var w = Random(4, -0.5, 0.5); var g = Random(5, -0.1, 0.1); var m = Random(6, -0.01, 0.01); var v = Random(7, 0, 1e-3);
        using var wb = gpu.Upload(w); using var gb = gpu.Upload(g); using var mb = gpu.Upload(m); using var vb = gpu.Upload(v);
        using var tb = gpu.Upload(Trainable);
        gpu.Kernels.Optimizer.Adam(gpu.Stream, new AdamStep(lr, b1, b2, eps, decay, c1, c2), wb.View, gb.View, mb.View, vb.View, tb.View, Threads);
        gpu.Stream.Synchronize();

        var m2 = new double[N]; var v2 = new double[N]; var w2 = new double[N];
        for (int i = 0; i < N; i++)
        {
            double gi = g[i] + (double)decay * w[i];
            m2[i] = b1 * (double)m[i] + (1 - (double)b1) * gi;
            v2[i] = b2 * (double)v[i] + (1 - (double)b2) * gi * gi;
            w2[i] = w[i] - lr * (m2[i] / c1) / (Math.Sqrt(v2[i] / c2) + eps);
        }
        AssertUpdated("adam m", mb.GetAsArray1D(), m2, m);
        AssertUpdated("adam v", vb.GetAsArray1D(), v2, v);
        AssertUpdated("adam weights", wb.GetAsArray1D(), w2, w);
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void SdlmScalesEachStepByTheHessianDiagonal(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        float lr = 5e-4f, mu = 0.02f, decay = 0f;
        var w = Random(8, -0.5, 0.5); var g = Random(9, -0.1, 0.1); var h = Random(10, 0, 2);
        using var wb = gpu.Upload(w); using var gb = gpu.Upload(g); using var hb = gpu.Upload(h); using var tb = gpu.Upload(Trainable);
        gpu.Kernels.Optimizer.Sdlm(gpu.Stream, new SdlmStep(lr, mu, decay), wb.View, gb.View, hb.View, tb.View, Threads);
        gpu.Stream.Synchronize();
        var w2 = Enumerable.Range(0, N).Select(i => w[i] - lr / (mu + (double)h[i]) * g[i]).ToArray();
        AssertUpdated("sdlm weights", wb.GetAsArray1D(), w2, w);
        Assert.Equal(h, hb.GetAsArray1D()); // the estimate is only read
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void AccumulateAddsAScaledBuffer(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var source = Random(11, -1, 1); var target = Random(12, -1, 1);
        using var sb = gpu.Upload(source); using var tb = gpu.Upload(target);
        gpu.Kernels.Optimizer.Accumulate(gpu.Stream, 0.25f, sb.View, tb.View, Threads);
        gpu.Stream.Synchronize();
        Tolerance.AssertClose("accumulate", tb.GetAsArray1D(), Enumerable.Range(0, N).Select(i => target[i] + 0.25 * source[i]).ToArray());
    }
}
