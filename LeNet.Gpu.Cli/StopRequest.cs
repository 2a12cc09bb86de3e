using System.Runtime.InteropServices;

namespace LeNet.Gpu.Cli;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM, as a service manager or <c>kill</c> sends it, both become a request to stop at the
/// next safe point (a batch boundary in training) instead of ending the process where it stands; a second one ends
/// it at once.
/// </summary>
public sealed class StopRequest : IDisposable
{
    private readonly CancellationTokenSource source = new();
    private readonly PosixSignalRegistration[] registrations;

    public StopRequest()
    {
        registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        ];
    }

    public CancellationToken Token => source.Token;

    private void OnSignal(PosixSignalContext context)
    {
        // A second signal ends the process as usual: the way out when the safe point is slow to come.
        if (source.IsCancellationRequested) return;
        context.Cancel = true; // keep running until the loop sees the token
        source.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in registrations) registration.Dispose();
        source.Dispose();
    }
}
