namespace LeNet.Gpu.Runtime;

/// <summary>
/// Tells a run that has diverged without overflowing (which <see cref="Trainer"/> catches on its own) from one that
/// is merely slow, after each epoch. Two signs count: weights grown far beyond anything training produces (a
/// learning rate of 1e10 puts them near 1e10 in one step, where saturated units then hold the loss flat at chance),
/// and a loss that has not fallen while accuracy stayed at chance over at least <see cref="StuckEpochs"/> epochs
/// and <see cref="StuckImages"/> images. The second is deliberately slow to fire: some initialisations sit on a
/// plateau for a while (most of a first epoch) before learning starts, and tiny test sets may sit at chance for many
/// epochs without anything being wrong, so neither is ever judged.
/// </summary>
public sealed class DivergenceMonitor(int classes = 10)
{
    /// <summary>Largest weight magnitude accepted. LeNet-5's weights stay within about ±10 in any sane run.</summary>
    public const float WeightLimit = 1e6f;

    /// <summary>At least this many whole epochs at chance before a run is called stuck…</summary>
    public const int StuckEpochs = 3;

    /// <summary>…and at least this many images seen in them.</summary>
    public const long StuckImages = 20_000;

    /// <summary>The loss must have fallen by more than this fraction over those epochs to count as falling.</summary>
    public const double LossProgress = 0.02;

    private readonly List<Score> history = [];

    /// <summary>Records one epoch; returns why the run has diverged, or null while it has not.</summary>
    public string? Observe(Score train, ReadOnlySpan<float> parameters)
    {
        float largest = 0;
        foreach (float w in parameters) largest = Math.Max(largest, Math.Abs(w));
        if (largest > WeightLimit)
            return $"the weights exploded (largest magnitude {largest.ToString("0.0E+000", System.Globalization.CultureInfo.InvariantCulture)}; " +
                $"a working run keeps them within about ±10)";

        history.Add(train);
        double chance = 1.0 / classes;
        // The shortest run of recent epochs long enough to judge: StuckEpochs or more, StuckImages or more.
        long images = 0;
        int count = 0;
        for (int i = history.Count - 1; i >= 0 && (count < StuckEpochs || images < StuckImages); i--)
        {
            if (history[i].Accuracy > 1.5 * chance) return null;
            images += history[i].Images;
            count++;
        }
        if (count < StuckEpochs || images < StuckImages) return null;
        var first = history[^count];
        var last = history[^1];
        if (last.Loss < (1 - LossProgress) * first.Loss) return null;
        return $"the loss has not fallen ({first.Loss:0.0000} to {last.Loss:0.0000}) and accuracy stayed at chance " +
            $"(at most {1.5 * chance:P0}) for {count} epochs and {images:N0} images";
    }
}
