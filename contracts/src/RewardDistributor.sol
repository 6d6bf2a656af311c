// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {PoolRegistry} from "./PoolRegistry.sol";
import {NotOperator, NotGuardian, InvalidProof, ZeroRoot, ZeroAmount} from "./Errors.sol";

/// @title RewardDistributor
/// @notice Per pool and epoch, the operator posts the Merkle root of every account's *cumulative*
///         earnings and funds the increase of the total. After `activationDelay` seconds (during
///         which the pool's guardian may cancel the root) anyone may claim for an account; a claim
///         pays the increase over what the account already claimed.
/// @dev Earnings leaves are OpenZeppelin StandardMerkleTree leaves of types
///      `(address account, uint256 cumulativeAmount)`:
///      `keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))))`.
///      Posting roots stops while the pool is paused; claims and cancellations never do.
///      Anyone may add to a pool's funding with `fund` (the Staking contract sends slashed stakes
///      there), which lowers what the operator's next root has to pull.
contract RewardDistributor is ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice A posted epoch root.
    struct EpochRoot {
        bytes32 root;
        uint256 totalCumulative;
        uint64 activeAt;
        bool cancelled;
        bytes32 epochFileHash;
    }

    /// @notice The registry that defines pools, their operators, guardians and tokens.
    PoolRegistry public immutable registry;
    /// @notice Seconds between posting a root and the first claim against it.
    uint64 public immutable activationDelay;

    mapping(uint256 poolId => mapping(uint256 epoch => EpochRoot)) private _roots;
    mapping(uint256 poolId => uint256) private _lastEpoch;
    mapping(uint256 poolId => uint256) private _funded;
    mapping(uint256 poolId => uint256) private _totalClaimed;
    mapping(uint256 poolId => mapping(address account => uint256)) private _claimed;
    /// @dev The pool's token, cached at its first root (a pool's token never changes), so that
    ///      claims need no call to the registry.
    mapping(uint256 poolId => address) private _token;

    event RootPosted(
        uint256 indexed poolId,
        uint256 indexed epoch,
        bytes32 root,
        uint256 totalCumulative,
        uint256 fundedAmount,
        uint64 activeAt,
        bytes32 epochFileHash
    );
    event Funded(uint256 indexed poolId, address indexed from, uint256 amount, uint256 funded);
    event RootCancelled(uint256 indexed poolId, uint256 indexed epoch, address guardian);
    event Claimed(
        uint256 indexed poolId, uint256 indexed epoch, address indexed account, uint256 cumulativeAmount, uint256 paid
    );

    /// @notice Epochs must strictly increase per pool.
    error EpochNotIncreasing(uint256 poolId, uint256 epoch, uint256 lastEpoch);
    /// @notice No root was posted for this epoch.
    error EpochNotFound(uint256 poolId, uint256 epoch);
    /// @notice The guardian cancelled this epoch's root.
    error EpochCancelled(uint256 poolId, uint256 epoch);
    /// @notice The root is still in its activation delay.
    error EpochNotActive(uint256 poolId, uint256 epoch, uint64 activeAt);
    /// @notice The root is already active and can no longer be cancelled.
    error EpochAlreadyActive(uint256 poolId, uint256 epoch, uint64 activeAt);
    /// @notice The account already claimed at least this cumulative amount.
    error NothingToClaim(address account, uint256 cumulativeAmount, uint256 alreadyClaimed);
    /// @notice Paying would take the pool's total claimed above its total funded.
    error InsufficientFunding(uint256 poolId, uint256 needed, uint256 available);

    /// @param registry_ The pool registry.
    /// @param activationDelay_ Seconds a posted root waits before claims (the guardian's veto window).
    constructor(PoolRegistry registry_, uint64 activationDelay_) {
        registry = registry_;
        activationDelay = activationDelay_;
    }

    /// @notice Post the root of cumulative earnings for `epoch` and pull the funding increase
    ///         (`totalCumulative - funded`, if positive) from the operator, who approves first.
    ///         Stopped while the pool is paused.
    /// @param root StandardMerkleTree root over `(address account, uint256 cumulativeAmount)` leaves.
    /// @param totalCumulative Sum of all cumulative amounts in the tree.
    /// @param epochFileHash Hash of the published epoch file that lets anyone recompute the root.
    function postRoot(uint256 poolId, uint256 epoch, bytes32 root, uint256 totalCumulative, bytes32 epochFileHash)
        external
        nonReentrant
    {
        // slither-disable-next-line unused-return (each caller takes the roles it needs)
        (address operator,, address token) = registry.activeRoles(poolId);
        if (msg.sender != operator) revert NotOperator(poolId, msg.sender);
        if (_token[poolId] == address(0)) _token[poolId] = token;
        uint256 last = _lastEpoch[poolId];
        if (epoch <= last) revert EpochNotIncreasing(poolId, epoch, last);
        if (root == bytes32(0)) revert ZeroRoot();
        uint256 fundedSoFar = _funded[poolId];
        uint256 topUp = totalCumulative > fundedSoFar ? totalCumulative - fundedSoFar : 0;
        uint64 activeAt = uint64(block.timestamp) + activationDelay;
        _lastEpoch[poolId] = epoch;
        _roots[poolId][epoch] = EpochRoot({
            root: root,
            totalCumulative: totalCumulative,
            activeAt: activeAt,
            cancelled: false,
            epochFileHash: epochFileHash
        });
        uint256 received = topUp > 0 ? _pull(poolId, token, operator, topUp) : 0;
        emit RootPosted(poolId, epoch, root, totalCumulative, received, activeAt, epochFileHash);
    }

    /// @notice Add `amount` of the pool's token to the pool's funding (anyone; approve first).
    ///         Credits what actually arrived. Works while the pool is paused.
    /// @return received The amount added to `funded(poolId)`.
    function fund(uint256 poolId, uint256 amount) external nonReentrant returns (uint256 received) {
        if (amount == 0) revert ZeroAmount();
        // slither-disable-next-line unused-return (each caller takes the roles it needs)
        (,, address token) = registry.roles(poolId);
        if (_token[poolId] == address(0)) _token[poolId] = token;
        received = _pull(poolId, token, msg.sender, amount);
        emit Funded(poolId, msg.sender, received, _funded[poolId]);
    }

    /// @dev Pulls `amount` of `token` from `from` and adds what actually arrived to the pool's
    ///      funding (a fee-on-transfer token can never overstate it).
    function _pull(uint256 poolId, address token, address from, uint256 amount) private returns (uint256 received) {
        IERC20 erc20 = IERC20(token);
        uint256 before = erc20.balanceOf(address(this));
        erc20.safeTransferFrom(from, address(this), amount);
        received = erc20.balanceOf(address(this)) - before;
        _funded[poolId] += received;
    }

    /// @notice Cancel an epoch's root before it activates; only the pool's guardian.
    /// @dev The funding stays in the pool; the operator posts a corrected root as a later epoch.
    function cancelRoot(uint256 poolId, uint256 epoch) external {
        // slither-disable-next-line unused-return (each caller takes the roles it needs)
        (, address guardian,) = registry.roles(poolId);
        if (msg.sender != guardian) revert NotGuardian(poolId, msg.sender);
        EpochRoot storage er = _roots[poolId][epoch];
        if (er.root == bytes32(0)) revert EpochNotFound(poolId, epoch);
        if (er.cancelled) revert EpochCancelled(poolId, epoch);
        // slither-disable-next-line timestamp (delays are hours or days; seconds of drift do not matter)
        if (block.timestamp >= er.activeAt) revert EpochAlreadyActive(poolId, epoch, er.activeAt);
        er.cancelled = true;
        emit RootCancelled(poolId, epoch, msg.sender);
    }

    /// @notice Claim for `account` (anyone may send): pays the increase of `cumulativeAmount`
    ///         over what the account already claimed in this pool.
    /// @param proof Proof that `(account, cumulativeAmount)` is a leaf of the epoch's root.
    /// @return paid The amount transferred to `account`.
    function claim(uint256 poolId, uint256 epoch, address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        nonReentrant
        returns (uint256 paid)
    {
        _checkLeaf(poolId, epoch, account, cumulativeAmount, proof);
        paid = _record(poolId, account, cumulativeAmount);
        IERC20(_token[poolId]).safeTransfer(account, paid);
        emit Claimed(poolId, epoch, account, cumulativeAmount, paid);
    }

    /// @dev The epoch's root exists, is not cancelled, is active, and holds the leaf.
    function _checkLeaf(
        uint256 poolId,
        uint256 epoch,
        address account,
        uint256 cumulativeAmount,
        bytes32[] calldata proof
    ) private view {
        EpochRoot storage er = _roots[poolId][epoch];
        bytes32 root = er.root;
        if (root == bytes32(0)) revert EpochNotFound(poolId, epoch);
        if (er.cancelled) revert EpochCancelled(poolId, epoch);
        // slither-disable-next-line timestamp (delays are hours or days; seconds of drift do not matter)
        if (block.timestamp < er.activeAt) revert EpochNotActive(poolId, epoch, er.activeAt);
        if (!MerkleProof.verifyCalldata(proof, root, earningsLeaf(account, cumulativeAmount))) revert InvalidProof();
    }

    /// @dev Books the claim of the increase and returns it; total claimed stays within funded.
    function _record(uint256 poolId, address account, uint256 cumulativeAmount) private returns (uint256 paid) {
        uint256 already = _claimed[poolId][account];
        if (cumulativeAmount <= already) revert NothingToClaim(account, cumulativeAmount, already);
        paid = cumulativeAmount - already;
        uint256 claimedSoFar = _totalClaimed[poolId];
        uint256 fundedSoFar = _funded[poolId];
        if (claimedSoFar + paid > fundedSoFar) revert InsufficientFunding(poolId, paid, fundedSoFar - claimedSoFar);
        _claimed[poolId][account] = cumulativeAmount;
        _totalClaimed[poolId] = claimedSoFar + paid;
    }

    /// @notice The StandardMerkleTree leaf of an account's cumulative earnings.
    function earningsLeaf(address account, uint256 cumulativeAmount) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
    }

    /// @notice Total claimed by `account` in the pool.
    function claimed(uint256 poolId, address account) external view returns (uint256) {
        return _claimed[poolId][account];
    }

    /// @notice Total the operator has funded to the pool.
    function funded(uint256 poolId) external view returns (uint256) {
        return _funded[poolId];
    }

    /// @notice Total claimed from the pool by all accounts.
    function totalClaimed(uint256 poolId) external view returns (uint256) {
        return _totalClaimed[poolId];
    }

    /// @notice The root posted for an epoch (all zero if none).
    function epochRoot(uint256 poolId, uint256 epoch) external view returns (EpochRoot memory) {
        return _roots[poolId][epoch];
    }

    /// @notice The last epoch posted for the pool (0 if none).
    function lastEpoch(uint256 poolId) external view returns (uint256) {
        return _lastEpoch[poolId];
    }
}
