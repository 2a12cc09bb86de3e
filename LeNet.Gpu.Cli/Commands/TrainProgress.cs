using LeNet.Gpu.Engine;
using Spectre.Console;

namespace LeNet.Gpu.Cli.Commands;

/// <summary>What <c>lenet train</c> shows while it trains, and says when it stops early.</summary>
internal static class TrainProgress
{
    /// <summary>
    /// Runs the remaining epochs with a live progress bar where the terminal shows one (and <paramref name="live"/>),
    /// else one line per epoch; <paramref name="onEpoch"/> runs after each, before its line.
    /// </summary>
    public static void Run(Trainer trainer, TrainingOptions options, Action<EpochResult> onEpoch, bool live, CancellationToken token)
    {
        if (live && !Console.IsErrorRedirected && AnsiConsole.Profile.Capabilities.Interactive)
            RunWithProgressBar(trainer, options, onEpoch, token);
        else
            trainer.Run(r => { onEpoch(r); Console.Error.WriteLine(Describe(r)); }, null, token);
    }

    /// <summary>After a failed write: the last complete checkpoint, which is intact, or that there is none.</summary>
    public static string Kept(int epochs, string? checkpoint) => checkpoint is null
        ? "No checkpoint was written (the first is written when an epoch ends)."
        : $"The last complete checkpoint is {Common.Shown(checkpoint)} (epoch {epochs}), intact: free some space and continue with --resume {Common.Shown(checkpoint)}";

    /// <summary>What a stopped run leaves: the checkpoint to resume from, or that none was written.</summary>
    public static string Stopped(int epochs, string? written, string? resumedFrom) => (written, resumedFrom) switch
    {
        ({ } path, _) => $"stopped at a batch boundary; the last complete checkpoint is {path} (epoch {epochs}): continue with --resume {path}",
        (null, { } path) => $"stopped at a batch boundary before this run completed an epoch; no checkpoint was written, and {path} " +
            $"(epoch {epochs}) is still the one to continue from with --resume {path}",
        _ => $"stopped at a batch boundary in epoch {epochs + 1}; no checkpoint was written (the first is written when an epoch ends)",
    };

    private static string Describe(EpochResult r) =>
        $"epoch {r.Epoch}: loss {r.Train.Loss:0.0000} accuracy {r.Train.Accuracy:P2}" +
        (r.Validation is { } v ? $" | validation loss {v.Loss:0.0000} accuracy {v.Accuracy:P2}" : "") +
        $" | {r.ImagesPerSecond:N0} images/s, lr {r.LearningRate:0.#####}";

    private static void RunWithProgressBar(Trainer trainer, TrainingOptions options, Action<EpochResult> onEpoch, CancellationToken token)
    {
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask("training", maxValue: (double)options.Epochs * trainer.BatchesPerEpoch);
                task.Value = (double)trainer.EpochsCompleted * trainer.BatchesPerEpoch;
                var progress = new SynchronousProgress<BatchProgress>(p =>
                {
                    task.Value = (double)p.Epoch * p.Batches + p.Batch;
                    task.Description = Markup.Escape(
                        $"epoch {p.Epoch + 1}/{options.Epochs} batch {p.Batch}/{p.Batches} loss {p.Running.Loss:0.000} acc {p.Running.Accuracy:P1} {p.ImagesPerSecond:N0} img/s");
                });
                trainer.Run(r =>
                {
                    onEpoch(r);
                    AnsiConsole.MarkupLine(Markup.Escape(Describe(r)));
                }, progress, token);
                task.Value = task.MaxValue;
            });
    }
}

/// <summary>Reports on the calling thread (System.Progress would post to the thread pool, out of order).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
