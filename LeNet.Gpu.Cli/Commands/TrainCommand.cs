using System.CommandLine;
using System.Diagnostics;
using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Training;

namespace LeNet.Gpu.Cli.Commands;

/// <summary><c>lenet train</c>: parses (<see cref="TrainCommandLine"/>), runs the library's plan, prints and saves.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var line = new TrainCommandLine();
        var command = line.Command();
        command.SetAction(parse => Common.Run(() =>
        {
            var request = line.Request(parse);
            var plan = Usage(request.Resolve);
            string outputPath = parse.GetValue(line.Output)!;
            // OUTPUT.ckpt, kept within the file system's name limit however long OUTPUT's name is.
            string checkpointPath = parse.GetValue(line.Checkpoint) ?? AtomicFile.SiblingPath(outputPath, ".ckpt");
            string? plotPath = parse.GetValue(line.Plot);
            string? resumePath = parse.GetValue(line.Resume);
            if (resumePath is { Length: 0 }) throw new UsageException("--resume: the path is empty");
            string? dataset = parse.GetValue(line.Dataset), directory = parse.GetValue(line.Data);
            new OutputPaths().Dataset("--data", directory)
                .Dataset("--dataset", Common.DatasetPath(dataset ?? (directory is null ? "digits" : null)))
                .Input("--resume", resumePath)
                .Output("--output", outputPath).Output("--checkpoint", checkpointPath, mayReplace: "--resume").Output("--plot", plotPath).Check();
            using var locks = OutputLock.Acquire(("--output", outputPath), ("--checkpoint", checkpointPath));
            var (train, test, dataName) = Common.LoadData(dataset, directory, "digits");

            var deviceKind = Common.ParseDevice(parse.GetValue(line.Device)!);
            TrainingCheckpoint? resumeFrom = null;
            if (resumePath is not null)
            {
                resumeFrom = CheckpointFile.Load(resumePath, plan.Options.Optimizer);
                plan = OnResume(resumePath, () => request.Resume(resumeFrom));
            }
            var options = plan.Options;
            using var trainer = resumeFrom is null
                ? plan.CreateTrainer(deviceKind, train, test)
                : OnResume(resumePath!, () => plan.ResumeTrainer(deviceKind, resumeFrom, train, test));
            if (resumeFrom is not null && resumeFrom.EpochsCompleted >= options.Epochs)
                Console.Error.WriteLine($"lenet: {Common.Shown(resumePath!)} already holds {resumeFrom.EpochsCompleted} epochs (--epochs {options.Epochs}): nothing to train, writing its model");

            // From here on Ctrl+C and SIGTERM stop at a batch boundary (registered before anything says training began).
            using var stop = new StopRequest();
            Console.Error.WriteLine($"training on {trainer.Device}");
            Console.Error.WriteLine($"{Common.Shown(dataName)}: {trainer.TrainCount} training images, {trainer.ValidationCount} validation, {test.Count} test; " +
                $"{options.Initialization.ToName()} initialisation, {options.Optimizer.ToString().ToLowerInvariant()} lr {options.BaseLearningRate} ({options.Schedule.ToString().ToLowerInvariant()}), batch {options.BatchSize}, seed {options.Seed}" +
                (plan.Convolutions == ConvolutionSquashing.Squashed ? "; C1 and C3 squashed" : ""));

            bool checkpointWritten = false;
            int checkpointEpochs = resumeFrom?.EpochsCompleted ?? 0;
            // A resumed run's model records the whole training: the command that began it and the time of every part.
            var (carried, earlier) = Provenance.Carried(resumeFrom);
            string commandLine = carried ?? RecordedCommand.For(command, parse, ArgumentsLessResume(), options, trainer.Model());
            var history = new List<EpochResult>();
            var clock = Stopwatch.StartNew();
            try
            {
                void OnEpoch(EpochResult r)
                {
                    history.Add(r);
                    if (r.TestError is { } error) Console.Error.WriteLine($"epoch {r.Epoch}: test error {error:P2}");
                    var state = trainer.Checkpoint();
                    Provenance.Carry(state.Model.Metadata, commandLine, earlier + clock.Elapsed);
                    CheckpointFile.Save(state, options.Optimizer, checkpointPath);
                    checkpointWritten = true;
                    checkpointEpochs = r.Epoch;
                }
                TrainProgress.Run(trainer, options, OnEpoch, live: !parse.GetValue(line.NoProgress), stop.Token);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"lenet: {Common.Shown(TrainProgress.Stopped(trainer.EpochsCompleted, checkpointWritten ? checkpointPath : null, resumePath))}");
                return ExitCodes.Failure;
            }
            catch (IOException e)
            {
                // A full disk (or any failed write) while a checkpoint was being written: the temporary file is gone,
                // and the last checkpoint that was written whole is still there to continue from.
                Console.Error.WriteLine($"lenet: {Common.Reason(e)}; training stopped. {TrainProgress.Kept(checkpointEpochs, checkpointWritten ? checkpointPath : resumePath)}");
                return ExitCodes.Failure;
            }

            var model = trainer.Model();
            int correct = trainer.CountCorrect(test.Images, test.Labels);
            double accuracy = (double)correct / test.Count;
            Provenance.Record(model.Metadata, dataName, trainer.EpochsCompleted, options, model.Output,
                commandLine, accuracy, test.Count, trainer.Device, earlier + clock.Elapsed);
            plan.Record(model.Metadata, history);
            try
            {
                ModelFile.Save(model, outputPath);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"lenet: {Common.Reason(e)}; the model was not written. {TrainProgress.Kept(checkpointEpochs, checkpointWritten ? checkpointPath : resumePath)}");
                return ExitCodes.Failure;
            }
            Console.WriteLine($"test accuracy {accuracy:P2} ({correct}/{test.Count}); model written to {Common.Shown(outputPath)} in {clock.Elapsed.TotalSeconds:0} s");
            if (plotPath is not null && history.Count > 0)
            {
                if (plan.TestEveryEpoch)
                    Plots.ErrorCurves(history, history.Select(r => r.TestError!.Value).ToList(), plotPath);
                else
                    Plots.TrainingCurves(history, plotPath);
                Console.WriteLine($"curves written to {Common.Shown(plotPath)}");
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>This run's arguments, less a <c>--resume PATH</c> (which names no setting of the weights).</summary>
    private static string[] ArgumentsLessResume()
    {
        var args = Environment.GetCommandLineArgs().Skip(1).ToList();
        int at = args.FindIndex(a => a == "--resume" || a.StartsWith("--resume=", StringComparison.Ordinal));
        if (at >= 0) args.RemoveRange(at, args[at] == "--resume" && at + 1 < args.Count ? 2 : 1);
        return [.. args];
    }

    /// <summary>Settings the library refuses are a usage error (exit 2).</summary>
    private static T Usage<T>(Func<T> resolve)
    {
        try { return resolve(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
    }

    /// <summary>A resume the checkpoint's settings refuse is a usage error naming the checkpoint.</summary>
    private static T OnResume<T>(string path, Func<T> resume)
    {
        try { return resume(); }
        catch (ResumeMismatchException e) { throw new UsageException($"--resume {path} {e.Difference}"); }
    }
}
