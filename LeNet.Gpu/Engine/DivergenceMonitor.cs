
namespace LeNet.Gpu.Engine;

/// <summary>
/// Tells a run that has diverged without overflowing (which <see cref="Trainer"/> catches on its own) from one that
/// is merely slow, after each epoch. Two signs count: weights grown far beyond anything training produces (a
/// learning rate of 1e10 puts them near 1e10 in one step, where saturated units then hold the loss flat at chance),
/// and accuracy at chance over at least <see cref="StuckEpochs"/> epochs and <see cref="StuckImages"/> images, whatever
/// the loss does meanwhile (with too high a rate it sits far above its starting level, and may sink back only as the
/// schedule lowers the rate). The second is deliberately slow to fire: some initialisations sit on a plateau at
/// chance for a while (at most about a first MNIST epoch, 60,000 images) before learning starts, and tiny test sets
/// may sit at chance for many epochs without anything being wrong, so neither is ever judged.
/// </summary>
public sealed class DivergenceMonitor(int classes = Model.Architecture.Classes)
{
    /// <summary>Largest weight magnitude accepted. LeNet-5's weights stay within about ±10 in any sane run.</summary>
    public const float WeightLimit = 1e6f;

    /// <summary>At least this many whole epochs at chance before a run is called stuck…</summary>
    public const int StuckEpochs = 3;

    /// <summary>…and at least this many images seen in them.</summary>
    public const long StuckImages = 60_000;

    /// <summary>Training accuracy up to this multiple of chance (1/classes) counts as chance.</summary>
    public const double ChanceMargin = 1.5;

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
        double best = 0;
        for (int i = history.Count - 1; i >= 0 && (count < StuckEpochs || images < StuckImages); i--)
        {
            if (history[i].Accuracy > ChanceMargin * chance) return null;
            best = Math.Max(best, history[i].Accuracy);
            images += history[i].Images;
            count++;
        }
        if (count < StuckEpochs || images < StuckImages) return null;
        return $"training accuracy stayed at chance (at most {best:P1}) for {count} epochs and {images:N0} images, " +
            $"the loss going from {history[^count].Loss:0.0000} to {history[^1].Loss:0.0000}: the run is not learning";
    }
}
