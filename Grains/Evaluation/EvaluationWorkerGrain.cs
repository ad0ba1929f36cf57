using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Platform.Grains.Devices;
using Platform.Grains.Training;

namespace Platform.Grains.Evaluation;

/// <summary>
/// One evaluation on a lent device (see <see cref="IEvaluationWorkerGrain"/>), placed on the silo owning the device named
/// in its key. The loan is renewed a few times per lease while the evaluator runs; when the scheduler says it is gone
/// (expired, or taken back), the evaluation stops rather than share the device with whatever gets it next.
/// </summary>
[DevicePlacement]
public sealed class EvaluationWorkerGrain(BlobServiceClient blobs, ILogger<EvaluationWorkerGrain> logger) : Grain, IEvaluationWorkerGrain
{
    private const int RenewalsPerLease = 3;

    public async Task<EvaluationOutcome> Evaluate(EvaluationRequest request)
    {
        if (!DevicePlacedKey.TryParse(this.GetPrimaryKeyString(), out var device, out var evaluationKey))
            throw new ArgumentException($"'{this.GetPrimaryKeyString()}' is not a device-placed evaluation key.");
        var loan = request.Loan ?? throw new ArgumentException($"Evaluation {evaluationKey} has no device loan; without one it runs on its evaluation grain's silo.");
        if (loan.Device != device) throw new ArgumentException($"Evaluation {evaluationKey} is lent {loan.Device}, but this worker is on {device}.");
        var scheduler = GrainFactory.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);
        using var loanLost = new CancellationTokenSource();
        using var finished = new CancellationTokenSource();
        var keeping = KeepLoanAsync(scheduler, loan, loanLost, finished.Token);
        try
        {
            return await CheckpointScoring.RunAsync(evaluationKey, request, device, blobs, logger, loanLost.Token);
        }
        catch (OperationCanceledException) when (loanLost.IsCancellationRequested)
        {
            throw new InvalidOperationException($"Evaluation {evaluationKey} lost its loan of {device} and stopped, so that the device's next holder has it alone.");
        }
        finally
        {
            await finished.CancelAsync();
            await keeping;
            try
            {
                await scheduler.ReturnDevice(loan.Borrower);
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Evaluation {Key} could not return {Device}; its loan expires unrenewed", evaluationKey, device);
            }
            DeactivateOnIdle();
        }
    }

    private async Task KeepLoanAsync(ITrainingSchedulerGrain scheduler, DeviceLoan loan, CancellationTokenSource loanLost, CancellationToken finished)
    {
        var period = loan.Lease / RenewalsPerLease;
        while (!finished.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, finished);
                if (await scheduler.RenewLoan(loan.Borrower)) continue;
                logger.LogWarning("Evaluation loan {Borrower} of {Device} was taken back; stopping the evaluation", loan.Borrower, loan.Device);
                await loanLost.CancelAsync();
                return;
            }
            catch (OperationCanceledException) when (finished.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The scheduler may be moving (its silo left): the next renewal within the lease keeps the loan.
                logger.LogDebug(e, "Evaluation loan {Borrower}: a renewal did not get through", loan.Borrower);
            }
        }
    }
}
