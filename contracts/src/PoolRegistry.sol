// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {PoolNotFound, NotOperator, NotGuardian, InvalidProof, ZeroAddress, ZeroRoot, PoolIsPaused} from "./Errors.sol";

/// @title PoolRegistry
/// @notice Pools of consented data: their parameters, the Merkle roots of accepted-contribution
///         batches, revocations by contributors, and the models trained on them.
/// @dev Contribution leaves are OpenZeppelin StandardMerkleTree leaves of types
///      `(bytes32 recordId, address contributor)`:
///      `keccak256(bytes.concat(keccak256(abi.encode(recordId, contributor))))`.
///      The EIP-712 domain ("Fairwheel PoolRegistry", "1", chain id, this address) is the domain
///      of contributors' consent messages and of signed revocations.
///      Each pool can be paused by its guardian. A pause stops what writes new state into the
///      pool or brings new money into it (`anchorBatch`, `registerModel`, and through
///      `activeRoles` escrow deposits, epoch roots and new stakes); it never stops anyone from
///      leaving or from settling what was already signed (revocations, voucher redemptions,
///      withdrawals, claims, unstaking, cancellations and slashes).
contract PoolRegistry is EIP712 {
    /// @notice A pool's parameters and counters.
    struct Pool {
        address operator;
        address guardian;
        address token;
        uint256 searchPrice;
        uint256 predictPrice;
        uint16 operatorFeeBps;
        uint16 builderShareBps;
        bytes32 metadataHash;
        uint64 batchCount;
        uint64 modelCount;
    }

    /// @notice A registered model.
    struct Model {
        bytes32 modelHash;
        bytes32 datasetRoot;
        bytes32 metricsHash;
        uint64 registeredAt;
        string uri;
    }

    /// @notice EIP-712 type of a contributor's consent (verified off-chain by the node).
    bytes32 public constant CONSENT_TYPEHASH = keccak256(
        "Consent(address contributor,uint256 poolId,bytes32 contentHash,string licence,uint8 purposes,uint64 expiry,uint256 nonce)"
    );
    /// @notice EIP-712 type of a signed revocation, which anyone may relay.
    bytes32 public constant REVOCATION_TYPEHASH =
        keccak256("Revocation(address contributor,uint256 poolId,bytes32 recordId)");
    /// @notice Basis points in 100%.
    uint16 public constant MAX_BPS = 10_000;

    /// @notice Number of pools created; pool ids run from 1 to `poolCount`.
    uint256 public poolCount;

    mapping(uint256 poolId => Pool) private _pools;
    mapping(uint256 poolId => mapping(uint256 batchId => bytes32)) private _batchRoots;
    mapping(uint256 poolId => mapping(bytes32 recordId => bool)) private _revoked;
    mapping(uint256 poolId => mapping(uint256 modelId => Model)) private _models;
    mapping(uint256 poolId => bool) private _paused;

    event PoolCreated(
        uint256 indexed poolId,
        address indexed operator,
        address guardian,
        address token,
        uint256 searchPrice,
        uint256 predictPrice,
        uint16 operatorFeeBps,
        uint16 builderShareBps,
        bytes32 metadataHash
    );
    event PoolPaused(uint256 indexed poolId, address guardian);
    event PoolUnpaused(uint256 indexed poolId, address guardian);
    event BatchAnchored(uint256 indexed poolId, uint256 indexed batchId, bytes32 root, uint32 count, string uri);
    event Revoked(uint256 indexed poolId, bytes32 indexed recordId, address indexed contributor, uint256 batchId);
    event ModelRegistered(
        uint256 indexed poolId,
        uint256 indexed modelId,
        bytes32 modelHash,
        bytes32 datasetRoot,
        bytes32 metricsHash,
        string uri
    );

    /// @notice `operatorFeeBps + builderShareBps` exceeds 10,000.
    error InvalidFeeSplit(uint256 totalBps);
    /// @notice An anchored batch must hold at least one record.
    error EmptyBatch();
    /// @notice No batch has this id in this pool.
    error BatchNotFound(uint256 poolId, uint256 batchId);
    /// @notice No model has this id in this pool.
    error ModelNotFound(uint256 poolId, uint256 modelId);
    /// @notice The record was already revoked.
    error AlreadyRevoked(uint256 poolId, bytes32 recordId);
    /// @notice A revocation signature does not recover to the contributor.
    error InvalidSigner(address recovered, address expected);
    /// @notice `unpause` on a pool that is not paused.
    error PoolNotPaused(uint256 poolId);

    constructor() EIP712("Fairwheel PoolRegistry", "1") {}

    /// @dev The caller is the pool's operator and the pool is not paused.
    modifier onlyActiveOperator(uint256 poolId) {
        address operator = _pools[poolId].operator;
        if (operator == address(0)) revert PoolNotFound(poolId);
        if (msg.sender != operator) revert NotOperator(poolId, msg.sender);
        if (_paused[poolId]) revert PoolIsPaused(poolId);
        _;
    }

    /// @dev The caller is the pool's guardian.
    modifier onlyGuardian(uint256 poolId) {
        address guardian = _pools[poolId].guardian;
        if (guardian == address(0)) revert PoolNotFound(poolId);
        if (msg.sender != guardian) revert NotGuardian(poolId, msg.sender);
        _;
    }

    // ------------------------------------------------------------------ pools

    /// @notice Create a pool operated by the caller.
    /// @param guardian The pool's safety key: may cancel epoch roots during their activation delay.
    /// @param token The ERC-20 in which the pool is paid.
    /// @param searchPrice Price of one search, in token units.
    /// @param predictPrice Price of one model call, in token units.
    /// @param operatorFeeBps Operator's fee in basis points.
    /// @param builderShareBps Model builders' share of model calls, in basis points.
    /// @param metadataHash Hash of the pool's off-chain metadata (terms, schema, licence).
    /// @return poolId The new pool's id (starting at 1).
    function createPool(
        address guardian,
        address token,
        uint256 searchPrice,
        uint256 predictPrice,
        uint16 operatorFeeBps,
        uint16 builderShareBps,
        bytes32 metadataHash
    ) external returns (uint256 poolId) {
        if (guardian == address(0) || token == address(0)) revert ZeroAddress();
        uint256 totalBps = uint256(operatorFeeBps) + uint256(builderShareBps);
        if (totalBps > MAX_BPS) revert InvalidFeeSplit(totalBps);
        poolId = ++poolCount;
        _pools[poolId] = Pool({
            operator: msg.sender,
            guardian: guardian,
            token: token,
            searchPrice: searchPrice,
            predictPrice: predictPrice,
            operatorFeeBps: operatorFeeBps,
            builderShareBps: builderShareBps,
            metadataHash: metadataHash,
            batchCount: 0,
            modelCount: 0
        });
        emit PoolCreated(
            poolId, msg.sender, guardian, token, searchPrice, predictPrice, operatorFeeBps, builderShareBps, metadataHash
        );
    }

    /// @notice A pool's parameters and counters; reverts `PoolNotFound` for unknown ids.
    function getPool(uint256 poolId) external view returns (Pool memory) {
        Pool memory pool = _pools[poolId];
        if (pool.operator == address(0)) revert PoolNotFound(poolId);
        return pool;
    }

    /// @notice The three addresses other contracts need (cheaper than `getPool`).
    /// @return operator The pool's operator.
    /// @return guardian The pool's guardian.
    /// @return token The pool's ERC-20.
    function roles(uint256 poolId) external view returns (address operator, address guardian, address token) {
        Pool storage pool = _pools[poolId];
        operator = pool.operator;
        if (operator == address(0)) revert PoolNotFound(poolId);
        return (operator, pool.guardian, pool.token);
    }

    /// @notice The pool's roles, for calls that a pause stops; reverts `PoolIsPaused` while the
    ///         guardian has paused the pool (and `PoolNotFound` for unknown ids).
    /// @return operator The pool's operator.
    /// @return guardian The pool's guardian.
    /// @return token The pool's ERC-20.
    function activeRoles(uint256 poolId) external view returns (address operator, address guardian, address token) {
        Pool storage pool = _pools[poolId];
        operator = pool.operator;
        if (operator == address(0)) revert PoolNotFound(poolId);
        if (_paused[poolId]) revert PoolIsPaused(poolId);
        return (operator, pool.guardian, pool.token);
    }

    // ------------------------------------------------------------------ pause

    /// @notice Pause the pool (guardian only); see the contract's notes for what a pause stops.
    function pause(uint256 poolId) external onlyGuardian(poolId) {
        if (_paused[poolId]) revert PoolIsPaused(poolId);
        _paused[poolId] = true;
        emit PoolPaused(poolId, msg.sender);
    }

    /// @notice Lift the pool's pause (guardian only).
    function unpause(uint256 poolId) external onlyGuardian(poolId) {
        if (!_paused[poolId]) revert PoolNotPaused(poolId);
        _paused[poolId] = false;
        emit PoolUnpaused(poolId, msg.sender);
    }

    /// @notice Whether the pool's guardian has paused it.
    function isPaused(uint256 poolId) external view returns (bool) {
        return _paused[poolId];
    }

    // ---------------------------------------------------------------- batches

    /// @notice Anchor the Merkle root of a batch of accepted contributions.
    /// @param root StandardMerkleTree root over `(bytes32 recordId, address contributor)` leaves.
    /// @param count Number of records in the batch.
    /// @param uri Where the batch file (the tree dump) is published.
    /// @return batchId The batch's id within the pool (starting at 1).
    function anchorBatch(uint256 poolId, bytes32 root, uint32 count, string calldata uri)
        external
        onlyActiveOperator(poolId)
        returns (uint256 batchId)
    {
        if (root == bytes32(0)) revert ZeroRoot();
        if (count == 0) revert EmptyBatch();
        batchId = ++_pools[poolId].batchCount;
        _batchRoots[poolId][batchId] = root;
        emit BatchAnchored(poolId, batchId, root, count, uri);
    }

    /// @notice The root of a batch, or zero if there is no such batch.
    function batchRoot(uint256 poolId, uint256 batchId) external view returns (bytes32) {
        return _batchRoots[poolId][batchId];
    }

    /// @notice Whether `(recordId, contributor)` is a leaf of the batch's tree.
    function isAnchored(
        uint256 poolId,
        uint256 batchId,
        bytes32 recordId,
        address contributor,
        bytes32[] calldata proof
    ) public view returns (bool) {
        bytes32 root = _batchRoots[poolId][batchId];
        if (root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, root, contributionLeaf(recordId, contributor));
    }

    /// @notice The StandardMerkleTree leaf of a contribution.
    function contributionLeaf(bytes32 recordId, address contributor) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(recordId, contributor))));
    }

    // ------------------------------------------------------------ revocation

    /// @notice Revoke one of the caller's anchored records.
    /// @param proof Proof that `(recordId, msg.sender)` is a leaf of batch `batchId`.
    function revoke(uint256 poolId, uint256 batchId, bytes32 recordId, bytes32[] calldata proof) external {
        _revoke(poolId, batchId, recordId, msg.sender, proof);
    }

    /// @notice Revoke a contributor's record with their EIP-712 `Revocation` signature (anyone may relay).
    function revokeWithSig(
        uint256 poolId,
        uint256 batchId,
        bytes32 recordId,
        address contributor,
        bytes32[] calldata proof,
        bytes calldata signature
    ) external {
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(REVOCATION_TYPEHASH, contributor, poolId, recordId)));
        address signer = ECDSA.recoverCalldata(digest, signature);
        if (signer != contributor) revert InvalidSigner(signer, contributor);
        _revoke(poolId, batchId, recordId, contributor, proof);
    }

    /// @notice Whether a record of the pool was revoked.
    function isRevoked(uint256 poolId, bytes32 recordId) external view returns (bool) {
        return _revoked[poolId][recordId];
    }

    function _revoke(
        uint256 poolId,
        uint256 batchId,
        bytes32 recordId,
        address contributor,
        bytes32[] calldata proof
    ) private {
        if (_pools[poolId].operator == address(0)) revert PoolNotFound(poolId);
        if (_batchRoots[poolId][batchId] == bytes32(0)) revert BatchNotFound(poolId, batchId);
        if (!isAnchored(poolId, batchId, recordId, contributor, proof)) revert InvalidProof();
        if (_revoked[poolId][recordId]) revert AlreadyRevoked(poolId, recordId);
        _revoked[poolId][recordId] = true;
        emit Revoked(poolId, recordId, contributor, batchId);
    }

    // ----------------------------------------------------------------- models

    /// @notice Register a model trained on the pool's data.
    /// @param modelHash Hash of the model's weights.
    /// @param datasetRoot Merkle root of the training snapshot.
    /// @param metricsHash Hash of the evaluation report.
    /// @param uri Where the model card is published.
    /// @return modelId The model's id within the pool (starting at 1).
    function registerModel(
        uint256 poolId,
        bytes32 modelHash,
        bytes32 datasetRoot,
        bytes32 metricsHash,
        string calldata uri
    ) external onlyActiveOperator(poolId) returns (uint256 modelId) {
        modelId = ++_pools[poolId].modelCount;
        _models[poolId][modelId] = Model({
            modelHash: modelHash,
            datasetRoot: datasetRoot,
            metricsHash: metricsHash,
            registeredAt: uint64(block.timestamp),
            uri: uri
        });
        emit ModelRegistered(poolId, modelId, modelHash, datasetRoot, metricsHash, uri);
    }

    /// @notice A registered model; reverts `ModelNotFound` for unknown ids.
    function model(uint256 poolId, uint256 modelId) external view returns (Model memory) {
        Model memory m = _models[poolId][modelId];
        if (m.registeredAt == 0) revert ModelNotFound(poolId, modelId);
        return m;
    }

    // ---------------------------------------------------------------- EIP-712

    /// @notice The EIP-712 digest of a consent message in this registry's domain.
    function consentDigest(
        address contributor,
        uint256 poolId,
        bytes32 contentHash,
        string calldata licence,
        uint8 purposes,
        uint64 expiry,
        uint256 nonce
    ) external view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    CONSENT_TYPEHASH, contributor, poolId, contentHash, keccak256(bytes(licence)), purposes, expiry, nonce
                )
            )
        );
    }

    /// @notice The EIP-712 domain separator of this registry.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }
}
