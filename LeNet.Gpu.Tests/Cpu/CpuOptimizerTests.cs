using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using Xunit;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// One step of each optimizer against the scalar formula of the device kernel, written out here. The vectorised
/// update performs the same float operations per element, so the bits must agree; masked entries never move.
/// </summary>
public class CpuOptimizerTests
{
    private static readonly int N = ParameterLayout.Length;
    private static readonly float[] Trainable = ParameterLayout.TrainableMask();

    private static float[] Random(int seed, float scale, bool positive = false)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, N).Select(_ => (float)((positive ? random.NextDouble() : random.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    private static void AssertMaskedUnchanged(float[] before, float[] after)
    {
        for (int i = 0; i < N; i++)
            if (Trainable[i] == 0f) Assert.Equal(before[i], after[i]);
    }

    [Fact]
    public void Sgd_step_equals_the_scalar_formula()
    {
        float[] w = Random(1, 0.5f), g = Random(2, 0.1f), v = Random(3, 0.01f);
        float[] w0 = (float[])w.Clone(), v0 = (float[])v.Clone();
        const float lr = 0.05f, mu = 0.9f, wd = 1e-4f;
        float[] ew = (float[])w.Clone(), ev = (float[])v.Clone();
        for (int i = 0; i < N; i++)
        {
            if (Trainable[i] == 0f) continue;
            float gi = g[i] + wd * ew[i];
            float vi = mu * ev[i] - lr * gi;
            ev[i] = vi;
            ew[i] += vi;
        }
        CpuOptimizer.Sgd(lr, mu, wd, w, g, v, Trainable);
        Assert.Equal(ew, w);
        Assert.Equal(ev, v);
        AssertMaskedUnchanged(w0, w);
        AssertMaskedUnchanged(v0, v);
    }

    [Fact]
    public void Adam_step_equals_the_scalar_formula()
    {
        float[] w = Random(4, 0.5f), g = Random(5, 0.1f), m = Random(6, 0.01f), v = Random(7, 1e-4f, positive: true);
        float[] w0 = (float[])w.Clone();
        const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 1e-4f;
        float c1 = (float)(1 - Math.Pow(b1, 3)), c2 = (float)(1 - Math.Pow(b2, 3));
        float[] ew = (float[])w.Clone(), em = (float[])m.Clone(), ev = (float[])v.Clone();
        for (int i = 0; i < N; i++)
        {
            if (Trainable[i] == 0f) continue;
            float gi = g[i] + wd * ew[i];
            float mi = b1 * em[i] + (1f - b1) * gi;
            float vi = b2 * ev[i] + (1f - b2) * gi * gi;
            em[i] = mi;
            ev[i] = vi;
            ew[i] -= lr * (mi / c1) / (MathF.Sqrt(vi / c2) + eps);
        }
        CpuOptimizer.Adam(lr, b1, b2, eps, wd, c1, c2, w, g, m, v, Trainable);
        Assert.Equal(ew, w);
        Assert.Equal(em, m);
        Assert.Equal(ev, v);
        AssertMaskedUnchanged(w0, w);
    }

    [Fact]
    public void Sdlm_step_and_hessian_accumulation_equal_the_scalar_formulas()
    {
        float[] w = Random(8, 0.5f), g = Random(9, 0.1f), h = Random(10, 0.2f, positive: true), batch = Random(11, 0.1f, positive: true);
        float[] w0 = (float[])w.Clone();
        const float lr = 0.002f, mu = 0.02f, wd = 1e-4f, scale = 0.25f;
        float[] eh = (float[])h.Clone();
        for (int i = 0; i < N; i++) eh[i] += scale * batch[i];
        CpuOptimizer.Accumulate(scale, batch, h);
        Assert.Equal(eh, h);

        float[] ew = (float[])w.Clone();
        for (int i = 0; i < N; i++)
        {
            if (Trainable[i] == 0f) continue;
            float gi = g[i] + wd * ew[i];
            ew[i] -= lr / (mu + h[i]) * gi;
        }
        CpuOptimizer.Sdlm(lr, mu, wd, w, g, h, Trainable);
        Assert.Equal(ew, w);
        AssertMaskedUnchanged(w0, w);
    }

    [Fact]
    public void Sdlm_with_precomputed_step_sizes_gives_the_bits_of_the_dividing_step()
    {
        float[] g = Random(12, 0.1f), h = Random(13, 0.2f, positive: true);
        float[] w = Random(14, 0.5f), viaSteps = (float[])w.Clone(), steps = new float[N];
        const float lr = 0.0005f, mu = 0.02f, wd = 1e-4f;
        CpuOptimizer.Sdlm(lr, mu, wd, w, g, h, Trainable);
        CpuOptimizer.SdlmStepSizes(lr, mu, h, steps);
        CpuOptimizer.SdlmWithStepSizes(wd, viaSteps, g, steps, Trainable);
        Assert.True(w.AsSpan().SequenceEqual(viaSteps), "the step-size form of SDLM changed a weight's bits");
        Assert.NotEqual(Random(14, 0.5f), viaSteps); // it stepped
    }

    [Theory]
    [InlineData(OutputLayer.Softmax)]
    [InlineData(OutputLayer.Rbf)]
    public void Sdlm_over_the_trainable_runs_gives_the_bits_of_the_masked_step(OutputLayer output)
    {
        var mask = ParameterLayout.TrainableMask(output);
        float[] g = Random(15, 0.1f), steps = Random(16, 0.01f, positive: true);
        float[] w0 = Random(17, 0.5f), w = (float[])w0.Clone(), viaRuns = (float[])w0.Clone();
        const float wd = 1e-4f;
        CpuOptimizer.SdlmWithStepSizes(wd, w, g, steps, mask);
        CpuOptimizer.SdlmWithStepSizes(wd, viaRuns, g, steps, CpuOptimizer.TrainableRuns(mask));
        for (int i = 0; i < N; i++)
            Assert.True(BitConverter.SingleToInt32Bits(w[i]) == BitConverter.SingleToInt32Bits(viaRuns[i]), $"parameter {i}: the runs' step differs from the masked step");
        for (int i = 0; i < N; i++)
            if (mask[i] == 0f) Assert.Equal(w0[i], viaRuns[i]); // kept, whatever their (nonzero) gradient
        Assert.NotEqual(w0, viaRuns); // it stepped
    }

    [Fact]
    public void Spans_of_different_lengths_are_refused()
    {
        Assert.Throws<ArgumentException>(() => CpuOptimizer.Sgd(0.1f, 0.9f, 0, new float[N], new float[N], new float[N - 1], Trainable));
    }
}
