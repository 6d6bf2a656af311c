// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {PoolRegistry} from "./PoolRegistry.sol";
import {NotOperator, ZeroAmount} from "./Errors.sol";

/// @title UsageEscrow
/// @notice Consumers deposit a pool's token per pool and pay per use off-chain with EIP-712
///         vouchers carrying a *cumulative* amount; the pool's operator redeems the latest voucher,
///         which pays only the increase over what was already redeemed.
/// @dev Withdrawals thaw for `thawPeriod` seconds, which the constructor requires to be longer
///      than `redemptionWindow`, the longest time the operator lets pass between accepting a
///      voucher and redeeming it. So a withdrawal requested after a voucher was signed can only
///      complete after that voucher's redemption: a consumer cannot withdraw funds that back
///      vouchers already accepted (the operator accepts no voucher beyond
///      `balance - pending withdrawal - unredeemed`).
contract UsageEscrow is EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type of a voucher.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(address payer,uint256 poolId,uint256 cumulativeAmount)");

    /// @notice The registry that defines pools, their operators and tokens.
    PoolRegistry public immutable registry;
    /// @notice Seconds between a withdrawal request and the earliest withdrawal.
    uint64 public immutable thawPeriod;
    /// @notice Longest time, in seconds, between the operator accepting a voucher and redeeming
    ///         it (at least once per epoch close); always shorter than `thawPeriod`.
    uint64 public immutable redemptionWindow;

    /// @notice A requested withdrawal.
    struct PendingWithdrawal {
        uint256 amount;
        uint64 readyAt;
    }

    mapping(uint256 poolId => mapping(address payer => uint256)) private _balances;
    mapping(uint256 poolId => mapping(address payer => uint256)) private _redeemed;
    mapping(uint256 poolId => mapping(address payer => PendingWithdrawal)) private _pending;

    event Deposited(uint256 indexed poolId, address indexed payer, uint256 amount, uint256 balance);
    event Redeemed(uint256 indexed poolId, address indexed payer, uint256 cumulativeAmount, uint256 paid);
    event WithdrawRequested(uint256 indexed poolId, address indexed payer, uint256 amount, uint64 readyAt);
    event Withdrawn(uint256 indexed poolId, address indexed payer, uint256 amount);

    /// @notice The voucher's cumulative amount does not exceed what was already redeemed.
    error NothingToRedeem(uint256 poolId, address payer, uint256 cumulativeAmount, uint256 alreadyRedeemed);
    /// @notice The payer's escrow does not cover the amount.
    error InsufficientEscrow(uint256 poolId, address payer, uint256 needed, uint256 balance);
    /// @notice The voucher signature does not recover to the payer.
    error InvalidSigner(address recovered, address expected);
    /// @notice The arrays given to `redeemMany` differ in length.
    error LengthMismatch();
    /// @notice No withdrawal was requested.
    error NoPendingWithdrawal(uint256 poolId, address payer);
    /// @notice The withdrawal is still thawing.
    error WithdrawalNotReady(uint64 readyAt);
    /// @notice The thaw period must be longer than the redemption window.
    error ThawTooShort(uint64 thawPeriod, uint64 redemptionWindow);

    /// @param registry_ The pool registry.
    /// @param thawPeriod_ Seconds a withdrawal request thaws before it can be withdrawn.
    /// @param redemptionWindow_ Longest delay between accepting and redeeming a voucher; must be
    ///        shorter than `thawPeriod_`.
    constructor(PoolRegistry registry_, uint64 thawPeriod_, uint64 redemptionWindow_)
        EIP712("Fairwheel UsageEscrow", "1")
    {
        if (thawPeriod_ <= redemptionWindow_) revert ThawTooShort(thawPeriod_, redemptionWindow_);
        registry = registry_;
        thawPeriod = thawPeriod_;
        redemptionWindow = redemptionWindow_;
    }

    // ---------------------------------------------------------------- deposits

    /// @notice Deposit `amount` of the pool's token for the caller; the caller approves first.
    /// @dev Credits what actually arrived, so fee-on-transfer tokens cannot overstate a balance.
    ///      Stopped while the pool is paused.
    function deposit(uint256 poolId, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        // slither-disable-next-line unused-return (each caller takes the roles it needs)
        (,, address token) = registry.activeRoles(poolId);
        _deposit(poolId, IERC20(token), amount);
    }

    /// @notice Deposit with an EIP-2612 `permit` of the pool's token instead of an approval, in
    ///         one transaction. The permit's owner is the caller and its spender this escrow.
    /// @dev The permit is tried, not required: if someone already submitted the same permit
    ///      (front-running it to grief), the allowance it set is used and the deposit goes on; a
    ///      missing allowance then reverts in the transfer.
    /// @param deadline The permit's deadline.
    /// @param v The permit signature's recovery byte.
    /// @param r The permit signature's r.
    /// @param s The permit signature's s.
    // slither-disable-next-line reentrancy-benign (nonReentrant; only the token's permit runs first)
    function depositWithPermit(uint256 poolId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        if (amount == 0) revert ZeroAmount();
        // slither-disable-next-line unused-return (each caller takes the roles it needs)
        (,, address token) = registry.activeRoles(poolId);
        try IERC20Permit(token).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _deposit(poolId, IERC20(token), amount);
    }

    /// @dev Pulls `amount` from the caller and credits what arrived.
    function _deposit(uint256 poolId, IERC20 erc20, uint256 amount) private {
        uint256 before = erc20.balanceOf(address(this));
        erc20.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = erc20.balanceOf(address(this)) - before;
        uint256 balance = _balances[poolId][msg.sender] + received;
        _balances[poolId][msg.sender] = balance;
        emit Deposited(poolId, msg.sender, received, balance);
    }

    /// @notice The payer's escrowed balance in the pool.
    function balanceOf(uint256 poolId, address payer) external view returns (uint256) {
        return _balances[poolId][payer];
    }

    // ------------------------------------------------------------- redemption

    /// @notice Redeem a voucher: pays the operator the increase of `cumulativeAmount` over what
    ///         was already redeemed for this payer and pool. Only the pool's operator may call.
    /// @param payer The consumer who signed the voucher.
    /// @param cumulativeAmount Total the payer owes the pool so far.
    /// @param signature 65-byte ECDSA signature (low-s) over the EIP-712 `Voucher`.
    /// @return paid The amount transferred to the operator.
    function redeem(address payer, uint256 poolId, uint256 cumulativeAmount, bytes calldata signature)
        external
        nonReentrant
        returns (uint256 paid)
    {
        // slither-disable-next-line unused-return (each caller takes the roles it needs)
        (address operator,, address token) = registry.roles(poolId);
        if (msg.sender != operator) revert NotOperator(poolId, msg.sender);
        paid = _redeem(payer, poolId, cumulativeAmount, signature);
        IERC20(token).safeTransfer(operator, paid);
    }

    /// @notice Redeem several vouchers of one pool in one transaction (all or nothing).
    /// @return total The amount transferred to the operator.
    function redeemMany(
        uint256 poolId,
        address[] calldata payers,
        uint256[] calldata cumulativeAmounts,
        bytes[] calldata signatures
    ) external nonReentrant returns (uint256 total) {
        uint256 n = payers.length;
        if (cumulativeAmounts.length != n || signatures.length != n) revert LengthMismatch();
        // slither-disable-next-line unused-return (each caller takes the roles it needs)
        (address operator,, address token) = registry.roles(poolId);
        if (msg.sender != operator) revert NotOperator(poolId, msg.sender);
        for (uint256 i = 0; i < n; ++i) {
            total += _redeem(payers[i], poolId, cumulativeAmounts[i], signatures[i]);
        }
        IERC20(token).safeTransfer(operator, total);
    }

    /// @notice Total already redeemed from the payer in the pool.
    function redeemed(uint256 poolId, address payer) external view returns (uint256) {
        return _redeemed[poolId][payer];
    }

    /// @notice The EIP-712 digest of a voucher in this escrow's domain.
    function voucherDigest(address payer, uint256 poolId, uint256 cumulativeAmount) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, payer, poolId, cumulativeAmount)));
    }

    /// @notice The EIP-712 domain separator of this escrow.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _redeem(address payer, uint256 poolId, uint256 cumulativeAmount, bytes calldata signature)
        private
        returns (uint256 paid)
    {
        address signer = ECDSA.recoverCalldata(voucherDigest(payer, poolId, cumulativeAmount), signature);
        if (signer != payer) revert InvalidSigner(signer, payer);
        uint256 already = _redeemed[poolId][payer];
        if (cumulativeAmount <= already) revert NothingToRedeem(poolId, payer, cumulativeAmount, already);
        paid = cumulativeAmount - already;
        uint256 balance = _balances[poolId][payer];
        if (paid > balance) revert InsufficientEscrow(poolId, payer, paid, balance);
        _redeemed[poolId][payer] = cumulativeAmount;
        _balances[poolId][payer] = balance - paid;
        emit Redeemed(poolId, payer, cumulativeAmount, paid);
    }

    // ------------------------------------------------------------ withdrawals

    /// @notice Ask to withdraw `amount`; replaces any earlier request and restarts the thaw.
    function requestWithdraw(uint256 poolId, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 balance = _balances[poolId][msg.sender];
        if (amount > balance) revert InsufficientEscrow(poolId, msg.sender, amount, balance);
        uint64 readyAt = uint64(block.timestamp) + thawPeriod;
        _pending[poolId][msg.sender] = PendingWithdrawal({amount: amount, readyAt: readyAt});
        emit WithdrawRequested(poolId, msg.sender, amount, readyAt);
    }

    /// @notice Withdraw a thawed request: pays min(requested, current balance) to the caller.
    /// @return amount The amount paid.
    function withdraw(uint256 poolId) external nonReentrant returns (uint256 amount) {
        PendingWithdrawal memory pending = _pending[poolId][msg.sender];
        if (pending.readyAt == 0) revert NoPendingWithdrawal(poolId, msg.sender);
        // slither-disable-next-line timestamp (delays are hours or days; seconds of drift do not matter)
        if (block.timestamp < pending.readyAt) revert WithdrawalNotReady(pending.readyAt);
        uint256 balance = _balances[poolId][msg.sender];
        amount = pending.amount < balance ? pending.amount : balance;
        delete _pending[poolId][msg.sender];
        _balances[poolId][msg.sender] = balance - amount;
        // slither-disable-next-line unused-return (each caller takes the roles it needs)
        (,, address token) = registry.roles(poolId);
        IERC20(token).safeTransfer(msg.sender, amount);
        emit Withdrawn(poolId, msg.sender, amount);
    }

    /// @notice The payer's pending withdrawal (zeros if none).
    function pendingWithdrawal(uint256 poolId, address payer) external view returns (uint256 amount, uint64 readyAt) {
        PendingWithdrawal memory pending = _pending[poolId][payer];
        return (pending.amount, pending.readyAt);
    }
}
