// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {PoolRegistry} from "./PoolRegistry.sol";
import {RewardDistributor} from "./RewardDistributor.sol";
import {NotOperator, NotGuardian, ZeroAmount} from "./Errors.sol";

/// @title Staking
/// @notice Labelers, raters and operators stake a pool's token in that pool. Leaving is queued:
///         `requestUnstake` moves stake into an unbonding balance that can be withdrawn
///         `unstakeDelay` seconds later. Until it is withdrawn, stake (active or unbonding) can be
///         slashed by the pool's guardian, with the hash of the evidence; slashed tokens become
///         funding of the pool in the RewardDistributor, paid out to the pool's earners through
///         later epoch roots.
/// @dev The slashing window is the unstake delay: misbehaviour stays punishable for at least
///      `unstakeDelay` after its author asks to leave. The constructor requires the delay to be
///      longer than the distributor's activation delay, the guardian's review window of an epoch,
///      so a staker whose misbehaviour shows in an epoch file cannot leave before that epoch has
///      been reviewed. Stakes are per (pool, account, role); every function touches one entry.
contract Staking is ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice What a stake backs. `Operator` stakes can only be made by the pool's operator.
    enum Role {
        Labeler,
        Rater,
        Operator
    }

    /// @notice One account's stake in one pool and role.
    struct Stake {
        uint256 staked;
        uint256 unbonding;
        uint64 readyAt;
    }

    /// @notice The registry that defines pools, their operators, guardians and tokens.
    PoolRegistry public immutable registry;
    /// @notice Where slashed stakes go (as funding of the slashed account's pool).
    RewardDistributor public immutable distributor;
    /// @notice Seconds between an unstake request and the earliest withdrawal of it.
    uint64 public immutable unstakeDelay;

    mapping(uint256 poolId => mapping(address account => mapping(Role role => Stake))) private _stakes;
    mapping(uint256 poolId => uint256) private _poolTotal;

    event Staked(uint256 indexed poolId, address indexed account, Role indexed role, uint256 amount, uint256 staked);
    event UnstakeRequested(
        uint256 indexed poolId,
        address indexed account,
        Role indexed role,
        uint256 amount,
        uint256 unbonding,
        uint64 readyAt
    );
    event Unstaked(uint256 indexed poolId, address indexed account, Role indexed role, uint256 amount);
    event Slashed(
        uint256 indexed poolId,
        address indexed account,
        Role indexed role,
        uint256 amount,
        bytes32 evidenceHash,
        address guardian
    );

    /// @notice The unstake delay must be longer than the distributor's activation delay.
    error UnstakeDelayTooShort(uint64 unstakeDelay, uint64 activationDelay);
    /// @notice The account's stake does not cover the amount.
    error InsufficientStake(uint256 poolId, address account, uint256 needed, uint256 available);
    /// @notice There is no unbonding stake to withdraw.
    error NothingToUnstake(uint256 poolId, address account);
    /// @notice The unbonding stake is still inside the unstake delay.
    error UnstakeNotReady(uint64 readyAt);
    /// @notice A slash must name the hash of its evidence.
    error MissingEvidence();

    /// @param registry_ The pool registry.
    /// @param distributor_ The reward distributor that receives slashed stakes.
    /// @param unstakeDelay_ Seconds an unstake request waits; longer than the activation delay.
    constructor(PoolRegistry registry_, RewardDistributor distributor_, uint64 unstakeDelay_) {
        uint64 activationDelay = distributor_.activationDelay();
        if (unstakeDelay_ <= activationDelay) revert UnstakeDelayTooShort(unstakeDelay_, activationDelay);
        registry = registry_;
        distributor = distributor_;
        unstakeDelay = unstakeDelay_;
    }

    /// @notice Stake `amount` of the pool's token in `role` (approve first). Credits what
    ///         actually arrived. Stopped while the pool is paused.
    /// @return staked The caller's active stake in the pool and role afterwards.
    function stake(uint256 poolId, Role role, uint256 amount) external nonReentrant returns (uint256 staked) {
        if (amount == 0) revert ZeroAmount();
        // slither-disable-next-line unused-return (each caller takes the roles it needs)
        (address operator,, address token) = registry.activeRoles(poolId);
        if (role == Role.Operator && msg.sender != operator) revert NotOperator(poolId, msg.sender);
        IERC20 erc20 = IERC20(token);
        uint256 before = erc20.balanceOf(address(this));
        erc20.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = erc20.balanceOf(address(this)) - before;
        Stake storage s = _stakes[poolId][msg.sender][role];
        staked = s.staked + received;
        s.staked = staked;
        _poolTotal[poolId] += received;
        emit Staked(poolId, msg.sender, role, received, staked);
    }

    /// @notice Start unbonding `amount` of the caller's active stake. Everything unbonding (this
    ///         amount and any earlier one) becomes withdrawable `unstakeDelay` from now.
    /// @return readyAt When `unstake` can pay the unbonding stake.
    function requestUnstake(uint256 poolId, Role role, uint256 amount) external returns (uint64 readyAt) {
        if (amount == 0) revert ZeroAmount();
        Stake storage s = _stakes[poolId][msg.sender][role];
        uint256 staked = s.staked;
        if (amount > staked) revert InsufficientStake(poolId, msg.sender, amount, staked);
        readyAt = uint64(block.timestamp) + unstakeDelay;
        s.staked = staked - amount;
        uint256 unbonding = s.unbonding + amount;
        s.unbonding = unbonding;
        s.readyAt = readyAt;
        emit UnstakeRequested(poolId, msg.sender, role, amount, unbonding, readyAt);
    }

    /// @notice Withdraw the caller's unbonding stake once its delay has passed. Works while the
    ///         pool is paused.
    /// @return amount The amount paid to the caller.
    function unstake(uint256 poolId, Role role) external nonReentrant returns (uint256 amount) {
        Stake storage s = _stakes[poolId][msg.sender][role];
        amount = s.unbonding;
        if (amount == 0) revert NothingToUnstake(poolId, msg.sender);
        // slither-disable-next-line timestamp (delays are hours or days; seconds of drift do not matter)
        if (block.timestamp < s.readyAt) revert UnstakeNotReady(s.readyAt);
        s.unbonding = 0;
        s.readyAt = 0;
        _poolTotal[poolId] -= amount;
        // slither-disable-next-line unused-return (each caller takes the roles it needs)
        (,, address token) = registry.roles(poolId);
        IERC20(token).safeTransfer(msg.sender, amount);
        emit Unstaked(poolId, msg.sender, role, amount);
    }

    /// @notice Slash `amount` of an account's stake in a pool and role (the pool's guardian
    ///         only), taking active stake first, then unbonding stake. The tokens go to the pool's
    ///         funding in the RewardDistributor. Works while the pool is paused.
    /// @param evidenceHash Hash of the published evidence (for example the epoch file and the
    ///        labeler's measured accuracy); must not be zero.
    function slash(uint256 poolId, address account, Role role, uint256 amount, bytes32 evidenceHash)
        external
        nonReentrant
    {
        // slither-disable-next-line unused-return (each caller takes the roles it needs)
        (, address guardian, address token) = registry.roles(poolId);
        if (msg.sender != guardian) revert NotGuardian(poolId, msg.sender);
        if (amount == 0) revert ZeroAmount();
        if (evidenceHash == bytes32(0)) revert MissingEvidence();
        Stake storage s = _stakes[poolId][account][role];
        uint256 staked = s.staked;
        uint256 unbonding = s.unbonding;
        if (amount > staked + unbonding) revert InsufficientStake(poolId, account, amount, staked + unbonding);
        if (amount <= staked) {
            s.staked = staked - amount;
        } else {
            s.staked = 0;
            s.unbonding = unbonding - (amount - staked);
        }
        _poolTotal[poolId] -= amount;
        emit Slashed(poolId, account, role, amount, evidenceHash, msg.sender);
        IERC20(token).forceApprove(address(distributor), amount);
        // slither-disable-next-line unused-return (the funded amount is in its event)
        distributor.fund(poolId, amount);
    }

    /// @notice An account's stake in a pool and role.
    /// @return staked Active stake.
    /// @return unbonding Stake waiting for `unstake`.
    /// @return readyAt When the unbonding stake can be withdrawn (0 if none).
    function stakeOf(uint256 poolId, address account, Role role)
        external
        view
        returns (uint256 staked, uint256 unbonding, uint64 readyAt)
    {
        Stake memory s = _stakes[poolId][account][role];
        return (s.staked, s.unbonding, s.readyAt);
    }

    /// @notice Everything staked in the pool (active and unbonding, all accounts and roles).
    function totalStaked(uint256 poolId) external view returns (uint256) {
        return _poolTotal[poolId];
    }
}
