using LeNet.Gpu.Interop;
using Microsoft.ML.OnnxRuntime;

namespace LeNet.Gpu.Tests.Interop;

/// <summary>An exported model loaded in ONNX Runtime on the CPU: loading runs ONNX's model checks and shape inference.</summary>
internal sealed class OnnxModel : IDisposable
{
    public InferenceSession Session { get; }

    public OnnxModel(byte[] model)
    {
        // One thread: the machine is shared, and a fixed thread count keeps ORT's sums in one order run to run.
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        Session = new InferenceSession(model, options);
    }

    /// <summary>Runs float images [n][32·32] (image-major); returns probabilities and logits, [n][10] each.</summary>
    public (float[] Probabilities, float[] Logits) Run(float[] images)
    {
        long n = images.Length / 1024;
        using var input = OrtValue.CreateTensorValueFromMemory(images, [n, 1, 32, 32]);
        using var runOptions = new RunOptions();
        using var outputs = Session.Run(runOptions, [OnnxExport.InputName], [input],
            [OnnxExport.ProbabilitiesName, OnnxExport.LogitsName]);
        var list = outputs.ToList();
        return (list[0].GetTensorDataAsSpan<float>().ToArray(), list[1].GetTensorDataAsSpan<float>().ToArray());
    }

    /// <summary>The index of the largest of each row of 10 (the first of equal maxima, as the softmax kernel picks).</summary>
    public static int[] ArgMax(float[] rows)
    {
        var classes = new int[rows.Length / 10];
        for (int n = 0; n < classes.Length; n++)
        {
            int best = 0;
            for (int c = 1; c < 10; c++)
                if (rows[n * 10 + c] > rows[n * 10 + best]) best = c;
            classes[n] = best;
        }
        return classes;
    }

    public static float MaxAbsDifference(float[] a, float[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"lengths {a.Length} and {b.Length} differ");
        float max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            float d = Math.Abs(a[i] - b[i]);
            if (!(d <= max)) max = float.IsNaN(d) ? float.PositiveInfinity : d; // a NaN anywhere fails every bound
        }
        return max;
    }

    public void Dispose() => Session.Dispose();
}
